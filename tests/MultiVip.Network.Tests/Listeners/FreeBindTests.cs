using System.Net;
using System.Net.Sockets;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Sockets;
using MultiVip.Model.Services;
using MultiVip.TestSupport.Network;

namespace MultiVip.Network.Tests.Listeners;

/// <summary>
/// IP_FREEBIND: a listener binds before its address is on any interface, and serves as soon as the
/// address arrives — no rebind. Run inside a namespace of the test's own, so no host address is involved.
/// </summary>
public sealed class FreeBindTests
{
    [Theory]
    [InlineData("198.18.5.5")]
    [InlineData("2001:db8:5::5")]
    public async Task A_tcp_listener_binds_an_absent_address_with_freebind_and_serves_once_it_is_added(string text)
    {
        await using var net = await NetworkNamespaces.CreateAsync();
        var ns = await net.AddAsync("freebind");
        var key = new ListenerKey(IPAddress.Parse(text), TransportProtocol.Tcp, 8443);

        // Without IP_FREEBIND the kernel refuses, and the message says what to do.
        var refused = ns.Run(() => (ListenerBinder.TryBind(key, freeBind: false, out var error), error));
        Assert.Null(refused.Item1);
        Assert.Contains("is not assigned to any interface", refused.error, StringComparison.Ordinal);

        using var listener = ns.Run(() => ListenerBinder.TryBind(key, freeBind: true, out _));
        Assert.NotNull(listener);

        var v6 = key.Address.AddressFamily == AddressFamily.InterNetworkV6;
        await ns.AddAddressAsync("lo", $"{text}/{(v6 ? 128 : 32)}");
        using var client = await ns.ConnectAsync(new IPEndPoint(key.Address, key.Port), TimeSpan.FromSeconds(5));
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(key.Address, ((IPEndPoint)accepted.LocalEndPoint!).Address);
    }

    [Theory]
    [InlineData("198.18.5.6")]
    [InlineData("2001:db8:5::6")]
    public async Task A_udp_listener_binds_an_absent_address_with_freebind(string text)
    {
        await using var net = await NetworkNamespaces.CreateAsync();
        var ns = await net.AddAsync("freebind");
        var key = new ListenerKey(IPAddress.Parse(text), TransportProtocol.Udp, 5353);

        Assert.Null(ns.Run(() => ListenerBinder.TryBindUdp(key, freeBind: false, out _)));
        using var bound = ns.Run(() => ListenerBinder.TryBindUdp(key, freeBind: true, out _));
        Assert.NotNull(bound);
        Assert.Equal(key.Address, ((IPEndPoint)bound.LocalEndPoint!).Address);
    }
}
