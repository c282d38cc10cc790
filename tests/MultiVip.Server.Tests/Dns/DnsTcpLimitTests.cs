using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace MultiVip.Server.Tests.Dns;

/// <summary>DNS over TCP has a connection cap (the descriptors the budget holds for it) and idle connections time out.</summary>
public sealed class DnsTcpLimitTests
{
    private const int Cap = 64;
    private const int Idle = 100;

    [Fact]
    public async Task Idle_tcp_clients_beyond_the_cap_wait_in_the_backlog_udp_keeps_answering_and_tcp_recovers()
    {
        await using var f = await ServerFixture.StartAsync();
        var dns = f.Server.DnsEndPoint!;
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < Idle; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync(dns).WaitAsync(TimeSpan.FromSeconds(10));
            }

            // Beyond the cap the server stops accepting (NSD's tcp-count): the rest wait in the kernel's
            // backlog and hold no descriptor of the server's, so DNS over UDP answers meanwhile.
            var udp = new LookupClient(new LookupClientOptions(new NameServer(dns)) { UseCache = false, Retries = 2, Timeout = TimeSpan.FromSeconds(2) });
            var soa = await udp.QueryAsync("cloudapp.internal", QueryType.SOA);
            Assert.False(soa.HasError, soa.ErrorMessage);

            // The idle ones are cut after 5 s without a query (the waiting ones in their turn); TCP answers again.
            var tcp = new LookupClient(new LookupClientOptions(new NameServer(dns)) { UseCache = false, UseTcpOnly = true, Retries = 0, Timeout = TimeSpan.FromSeconds(2) });
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                try
                {
                    var answer = await tcp.QueryAsync("cloudapp.internal", QueryType.SOA);
                    if (!answer.HasError)
                    {
                        break;
                    }
                }
                catch (DnsResponseException)
                {
                }

                Assert.True(DateTime.UtcNow < deadline, "DNS over TCP did not answer again after the idle clients timed out");
                await Task.Delay(200);
            }

            // Each accepted idle client is cut 5 s after its accept; TCP may answer as soon as the first
            // slot frees, so the rest of the first 64 are awaited (bounded), not expected at that instant.
            deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (!idle.Take(Cap).All(IsClosedByPeer) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.All(idle.Take(Cap), s => Assert.True(IsClosedByPeer(s)));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    private static bool IsClosedByPeer(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
