using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests;

public sealed class SecurityTests
{
    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://[::]:0")]
    public async Task Non_loopback_api_without_tls_is_refused(string api)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-sec", Guid.NewGuid().ToString("N"));
        var error = await Assert.ThrowsAsync<MultiVipException>(() => ServerHost.StartAsync(new ServerOptions { DataDir = dataDir, Api = api, Dns = "off", VipPools = [ServerFixture.UniquePool()] }));
        Assert.Contains("without TLS", error.Message);
        Assert.Contains("--tls-cert", error.Message);
        Assert.Contains("--insecure", error.Message);
        Assert.False(File.Exists(Path.Combine(dataDir, DataDirectory.EndpointFile)));
    }

    [Fact]
    public async Task Api_serves_https_with_the_given_certificate()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-sec", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=multivip-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(dataDir, "api.crt");
        var keyPath = Path.Combine(dataDir, "api.key");
        await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        await using var f = await ServerFixture.StartAsync(dataDir, o => o with { Api = "https://127.0.0.1:0", TlsCertificate = certPath, TlsKey = keyPath });
        Assert.Equal("https", f.Server.Api.Scheme);
        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                seen = cert?.Subject;
                return cert?.Thumbprint == certificate.Thumbprint;
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = f.Server.Api };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", f.Server.Token);
        using var response = await client.GetAsync(ApiRoutes.Services);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("CN=multivip-test", seen);
    }

    [Fact]
    public async Task Every_change_is_logged_with_time_and_caller()
    {
        await using var f = await ServerFixture.StartAsync();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        f.Http.DefaultRequestHeaders.UserAgent.ParseAdd("audit-test/2.0");
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "audited" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("audited"), new AddVmRequest { Name = "vm", Address = "127.0.0.9" });
        await f.SendAsync(HttpMethod.Delete, ApiRoutes.Service("audited") + "?deleteAll=true");
        var log = await f.GetAsync<List<Operation>>(ApiRoutes.Operations);
        Assert.Equal(["Remove-AzureService", "New-AzureVM", "New-AzureService"], log.Select(o => o.OperationDescription));
        Assert.All(log, o =>
        {
            Assert.Equal("audited", o.Target);
            Assert.Equal("127.0.0.1 audit-test/2.0", o.Caller);
            Assert.InRange(o.CreatedAt, before, DateTimeOffset.UtcNow.AddSeconds(1));
            Assert.Equal(OperationStatus.Succeeded, o.OperationStatus);
            Assert.NotNull(o.CompletedAt);
        });
    }
}
