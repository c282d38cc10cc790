using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Reconciliation;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Reconciliation;

public sealed class ListenerDiffTests
{
    private static ListenerSpec Spec(int port, TransportProtocol protocol = TransportProtocol.Tcp, int backendPort = 8080) => new()
    {
        Key = new ListenerKey(IPAddress.Parse("127.100.0.1"), protocol, port),
        ServiceName = "svc",
        VirtualIpName = "Vip1",
        Backends = [new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Parse("10.0.0.4"), backendPort))],
    };

    [Fact]
    public void Diff_by_key_separates_added_changed_removed_and_leaves_unchanged_alone()
    {
        var running = new Dictionary<ListenerKey, ListenerSpec>
        {
            [Spec(80).Key] = Spec(80),
            [Spec(443).Key] = Spec(443),
            [Spec(22).Key] = Spec(22),
        };

        var diff = ListenerDiff.Compute(running, [Spec(80), Spec(443, backendPort: 8443), Spec(8080), Spec(53, TransportProtocol.Udp)]);

        Assert.Equal([8080], diff.Added.Select(s => s.Key.Port));
        Assert.Equal([443], diff.Changed.Select(s => s.Key.Port));
        Assert.Equal([22], diff.Removed.Select(k => k.Port));
        Assert.Equal([53], diff.OtherProtocol.Select(k => k.Port));
        Assert.Empty(diff.Duplicates);
    }

    [Fact]
    public void Equivalent_but_distinct_instances_are_unchanged_and_duplicates_are_reported()
    {
        var running = new Dictionary<ListenerKey, ListenerSpec> { [Spec(80).Key] = Spec(80) };
        var diff = ListenerDiff.Compute(running, [Spec(80), Spec(80, backendPort: 1)]);
        Assert.Empty(diff.Added);
        Assert.Empty(diff.Changed);
        Assert.Empty(diff.Removed);
        Assert.Single(diff.Duplicates);
    }
}
