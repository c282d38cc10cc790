using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Tests.Infrastructure;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Tcp;

/// <summary>
/// The seed's scenario: several tenants each get their own VIP, all on the same public port (443 in
/// production), each forwarded to a different local port whose server presents the tenant's own
/// certificate. TLS passes through untouched, so the client must see the right subject per VIP.
/// </summary>
public abstract class MultiTenantTlsTests(EngineUnderTest engine)
{
    [Fact]
    public async Task Three_vips_on_one_public_port_each_present_their_own_certificate()
    {
        var tenants = new[] { "tenant-a.example", "tenant-b.example", "tenant-c.example" };
        var certificates = tenants.Select(CreateCertificate).ToArray();
        var backends = new List<TestBackend>();
        try
        {
            for (var i = 0; i < tenants.Length; i++)
            {
                var certificate = certificates[i];
                backends.Add(new TestBackend($"web{i}", (socket, _) => ServeTlsAsync(socket, certificate)));
            }

            var vips = tenants.Select(_ => TestNet.NextVip()).ToArray();
            var port = CommonFreePort(vips);
            await using var plane = TestPlane.Create(engine);
            var specs = vips.Select((vip, i) => TestNet.Spec(new ListenerKey(vip, TransportProtocol.Tcp, port), backends[i]) with
            {
                VirtualIpName = $"Vip{i + 1}",
            }).ToArray();
            await plane.ApplyOkAsync(1, specs);

            for (var i = 0; i < tenants.Length; i++)
            {
                var (subject, reply) = await HandshakeAsync(new IPEndPoint(vips[i], port), tenants[i], certificates);
                Assert.Equal($"CN={tenants[i]}", subject);
                Assert.Equal($"hello from {tenants[i]}", reply);
            }
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }

            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    private static X509Certificate2 CreateCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
    }

    private static async Task ServeTlsAsync(Socket socket, X509Certificate2 certificate)
    {
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate });
        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        await tls.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"hello from {name}\n"));
        await tls.FlushAsync();
        await tls.ShutdownAsync();
    }

    private static async Task<(string Subject, string Reply)> HandshakeAsync(IPEndPoint vip, string serverName, X509Certificate2[] known)
    {
        using var socket = await TestNet.ConnectAsync(vip);
        string? subject = null;
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,

            // Self-signed test certificates: pin them (any tenant's, so a wrong routing still completes
            // the handshake and the subject assertion names the culprit) and record which one came.
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                subject = certificate?.Subject;
                var hash = certificate?.GetCertHashString();
                return known.Any(k => k.GetCertHashString() == hash);
            },
        }).WaitAsync(TestNet.Timeout);
        using var reader = new StreamReader(tls);
        var reply = await reader.ReadLineAsync().WaitAsync(TestNet.Timeout);
        return (subject!, reply!);
    }

    /// <summary>One port free on every VIP, as the seed's scenario puts all tenants on the same public port.</summary>
    private static int CommonFreePort(IPAddress[] vips)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var port = TestNet.FreePort(vips[0]);
            if (vips.Skip(1).All(vip => IsFree(vip, port)))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no common free port");
    }

    private static bool IsFree(IPAddress address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

public sealed class MultiTenantTlsTestsOnEpoll() : MultiTenantTlsTests(SocketEngine.Epoll);

public sealed class MultiTenantTlsTestsOnDotnet() : MultiTenantTlsTests(SocketEngine.Dotnet);
