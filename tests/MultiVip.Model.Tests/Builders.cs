using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Model.Tests;

/// <summary>Small factories for valid domain objects; tests change only what they are about.</summary>
internal static class Build
{
    public static InputEndpoint Endpoint(
        string name, int localPort, int? publicPort = null, string vip = VirtualIp.DefaultName, string? set = null,
        TransportProtocol protocol = TransportProtocol.Tcp) => new()
        {
            Name = name,
            Protocol = protocol,
            LocalPort = localPort,
            PublicPort = publicPort ?? localPort,
            VirtualIpName = vip,
            LoadBalancedSetName = set,
        };

    public static LoadBalancerProbe TcpProbe(int port = 80) => new() { Protocol = ProbeProtocol.Tcp, Port = port };

    public static VirtualMachine Vm(string name, string address, params InputEndpoint[] endpoints) =>
        new() { Name = name, Address = address, Endpoints = endpoints };

    public static CloudService Service(IEnumerable<VirtualMachine> vms, params string[] extraVips) => new()
    {
        Name = "mysvc",
        Deployment = new Deployment
        {
            Name = "mysvc",
            VirtualIps =
            [
                new VirtualIp { Name = VirtualIp.DefaultName, Address = "127.100.0.1", IsDnsProgrammed = true },
                .. extraVips.Select(v => new VirtualIp { Name = v }),
            ],
            VirtualMachines = vms.ToList(),
        },
    };

    public static CloudService Service(params VirtualMachine[] vms) => Service(vms, []);
}

internal static class AssertError
{
    /// <summary>Asserts the action fails with a MultiVipException of the given code and exact message.</summary>
    public static MultiVipException Throws(ErrorCode code, string message, Action action)
    {
        var ex = Assert.Throws<MultiVipException>(action);
        Assert.Equal(code, ex.Code);
        Assert.Equal(message, ex.Message);
        return ex;
    }

    public static MultiVipException Throws(ErrorCode code, Action action)
    {
        var ex = Assert.Throws<MultiVipException>(action);
        Assert.Equal(code, ex.Code);
        return ex;
    }
}
