using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.Hosting;

/// <summary>The API's connection cap full of sockets that send nothing: the operator's request still gets in.</summary>
public sealed class ApiConnectionLimitTests
{
    private const int Cap = 16;
    private const int Idle = 60;

    [Fact]
    public async Task Idle_connections_at_the_cap_give_way_to_new_ones_and_authenticated_requests_are_served()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { MaxApiConnections = Cap });
        var api = new IPEndPoint(IPAddress.Loopback, f.Server.Api.Port);

        // Many more idle connections than the cap: no token, no bytes.
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < Idle; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync(api).WaitAsync(TimeSpan.FromSeconds(10));
            }

            // Each request comes on a connection of its own and is answered (before the fix: refused
            // by Kestrel's cap, or on a 400 limit a timeout, until the idle ones time out after 130 s).
            using var http = new HttpClient { BaseAddress = f.Server.Api, Timeout = TimeSpan.FromSeconds(10) };
            for (var i = 0; i < 10; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, ApiRoutes.Services);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", f.Server.Token);
                request.Headers.ConnectionClose = true;
                using var response = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            // The server closed the idle connections that gave way; at most the cap's worth stay open.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            int closed;
            while ((closed = idle.Count(IsClosedByPeer)) < Idle - Cap)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {closed} of {Idle} idle connections were closed (cap {Cap})");
                await Task.Delay(20);
            }
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Readable with nothing to read (FIN), or reset.</summary>
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
