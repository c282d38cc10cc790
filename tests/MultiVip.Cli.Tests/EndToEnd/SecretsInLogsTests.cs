using System.Net.Http.Headers;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>The server's own output (its log) never carries the API token, whatever clients send.</summary>
public sealed class SecretsInLogsTests
{
    [Fact]
    public async Task The_token_never_appears_in_the_server_log()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-secrets", Guid.NewGuid().ToString("N"));
        using var server = await ServerProcess.StartAsync(dataDir, $"127.45.{Random.Shared.Next(1, 250)}.0/24", "--log-format", "json");
        try
        {
            using (var client = server.Client())
            {
                await client.CreateServiceAsync(new CreateServiceRequest { Name = "svc" });
                await client.AddVmAsync("svc", new AddVmRequest { Name = "vm", Address = "127.0.0.9" });
                await Assert.ThrowsAsync<MultiVip.Client.MultiVipApiException>(() => client.AddVirtualIpAsync("svc", new AddVirtualIpRequest { Name = "bad name" }));
            }

            // A wrong token and a near-miss (the real one with a suffix) are refused, and not echoed.
            using var http = new HttpClient { BaseAddress = server.Api };
            foreach (var presented in new[] { "wrong", server.Token + "x" })
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", presented);
                using var response = await http.GetAsync(ApiRoutes.Services);
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.DoesNotContain(server.Token, await response.Content.ReadAsStringAsync());
            }

            server.Terminate();
            await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
            var log = server.Output;
            Assert.Contains("New-AzureService", log);
            Assert.DoesNotContain(server.Token, log);
            Assert.DoesNotContain(server.Token[..12], log);
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
