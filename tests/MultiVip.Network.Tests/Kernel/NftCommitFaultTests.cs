using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.Model.Services;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// A commit nft refuses is the listener's fault with nft's own message, not a crash. The nft here is a
/// stand-in script that refuses everything: this test never changes any ruleset.
/// </summary>
public sealed class NftCommitFaultTests
{
    [Fact]
    public async Task A_refused_commit_is_a_listener_fault_carrying_nfts_message()
    {
        await using var nft = await StandInNft.CreateAsync("cat > /dev/null\necho 'Error: Could not process rule: No buffer space available' >&2\nexit 1\n");
        var plane = nft.Plane;
        var key = new ListenerKey(IPAddress.Parse("198.51.100.10"), TransportProtocol.Tcp, 80);
        var result = await plane.ApplyAsync(
            new DesiredState(3, [new ListenerSpec
            {
                Key = key,
                ServiceName = "svc",
                VirtualIpName = "Vip1",
                Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080))],
            }]),
            CancellationToken.None);
        Assert.Equal(3, result.Generation);
        var fault = Assert.Single(result.Faults);
        Assert.Equal(key, fault.Key);
        Assert.Contains("No buffer space available", fault.Message, StringComparison.Ordinal);

        // The listener is retried with the next snapshot (and refused again, still a fault).
        var again = await plane.ApplyAsync(new DesiredState(4, [new ListenerSpec { Key = key, ServiceName = "svc", VirtualIpName = "Vip1", Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("192.0.2.11"), 8080))] }]), CancellationToken.None);
        Assert.Single(again.Faults);
    }
}
