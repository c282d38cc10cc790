using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MultiVip.Contracts;

namespace MultiVip.Cli.Tests.EndToEnd;

/// <summary>What `multivip serve` writes to its log when clients make mistakes or send control characters.</summary>
public sealed class ServerLogTests
{
    [Fact]
    public async Task A_client_error_is_one_information_line_without_a_stack_trace()
    {
        await WithServerAsync(async (server, http) =>
        {
            using var bad = await http.PostAsync(ApiRoutes.Services, Json("""{"name":"bad name"}"""));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            using var notFound = await http.GetAsync(ApiRoutes.Service("nope"));
            Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);

            await server.WaitForOutputAsync("'nope' does not exist", TimeSpan.FromSeconds(15));
            var log = server.Output;
            var line = Assert.Single(log.Split('\n'), l => l.Contains("'bad name'", StringComparison.Ordinal));
            Assert.Contains("info:", line, StringComparison.Ordinal);
            Assert.Contains("POST /api/services refused with 400 BadRequest", line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
            Assert.DoesNotContain("fail:", log, StringComparison.Ordinal);
            Assert.True(line.Length < 400, $"the line is {line.Length} characters: {line}");
        });
    }

    [Fact]
    public async Task Control_characters_a_client_sends_are_stored_and_logged_escaped()
    {
        await WithServerAsync(async (server, http) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, ApiRoutes.Services) { Content = Json("""{"name":"svc"}""") };
            request.Headers.TryAddWithoutValidation("User-Agent", "ev\u001b[31mil\u007f");
            using var created = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("operationId").GetString()!;

            // The operation record keeps the escaped text, whoever reads it later.
            var record = JsonDocument.Parse(await http.GetStringAsync(ApiRoutes.Operations + "/" + id)).RootElement;
            Assert.Equal(@"127.0.0.1 ev\x1b[31mil\x7f", record.GetProperty("caller").GetString());

            // A path with CR LF cannot start a forged line in the log.
            using var forged = await http.GetAsync("/api/services/x%1B%5B2J%0D%0Afail:%20forged");
            Assert.Equal(HttpStatusCode.NotFound, forged.StatusCode);

            await server.WaitForOutputAsync(@"x\x1b[2J\r\nfail: forged", TimeSpan.FromSeconds(15));
            await server.WaitForOutputAsync(@"by 127.0.0.1 ev\x1b[31mil\x7f", TimeSpan.FromSeconds(15));
            var log = server.Output;
            Assert.DoesNotContain('\u001b', log);
            Assert.DoesNotContain('\r', log);
            Assert.DoesNotContain(log.Split('\n'), l => l.StartsWith("fail:", StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task Restarting_with_a_pool_that_no_longer_covers_addresses_in_use_warns_once()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-pool", Guid.NewGuid().ToString("N"));
        var octet = Random.Shared.Next(1, 120);
        try
        {
            var addresses = new List<string>();
            using (var first = await ServerProcess.StartAsync(dataDir, $"127.64.{octet}.0/24"))
            {
                using var client = first.Client();
                foreach (var name in new[] { "one", "two" })
                {
                    await client.CreateServiceAsync(new CreateServiceRequest { Name = name });
                    await client.AddVmAsync(name, new AddVmRequest { Name = "vm", Address = "127.0.0.9" });
                    addresses.Add((await client.ListVirtualIpsAsync(name)).Single().Address!);
                }

                first.Terminate();
                Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            }

            var otherPool = $"127.64.{octet + 128}.0/24";
            using var second = await ServerProcess.StartAsync(dataDir, otherPool);
            await second.WaitForOutputAsync("outside the VIP pool", TimeSpan.FromSeconds(15));
            var line = Assert.Single(second.Output.Split('\n'), l => l.Contains("outside the VIP pool", StringComparison.Ordinal));
            Assert.Contains("warn:", line, StringComparison.Ordinal);
            Assert.Contains("2 address(es) in use", line, StringComparison.Ordinal);
            Assert.Contains($"127.64.{octet + 128}.1-127.64.{octet + 128}.254", line, StringComparison.Ordinal);
            Assert.All(addresses, a => Assert.Contains(a, line, StringComparison.Ordinal));
            Assert.Contains("virtual IP Vip1 of one", line, StringComparison.Ordinal);

            // The addresses keep serving as before: the services are all there.
            using var again = second.Client();
            Assert.Equal(2, (await again.ListServicesAsync()).Count);
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

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task WithServerAsync(Func<ServerProcess, HttpClient, Task> body)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-log", Guid.NewGuid().ToString("N"));
        using var server = await ServerProcess.StartAsync(dataDir, $"127.64.{Random.Shared.Next(1, 250)}.0/24");
        try
        {
            using var http = new HttpClient { BaseAddress = server.Api };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
            await body(server, http);
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
