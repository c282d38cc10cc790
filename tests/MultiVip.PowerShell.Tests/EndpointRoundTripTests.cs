using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.PowerShell.Tests;

/// <summary>
/// Every property of the domain's <see cref="InputEndpoint"/> — found by reflection, so a property
/// added later is walked too — is written through each client (REST API, CLI, PowerShell) and read
/// back through each client. The samples give every property a value other than its default (a new
/// property gets one from its type), so a layer that forgets a field (wire request, mapping, stored
/// document, CLI option, PowerShell parameter or object, the set-wide change) reads back the default
/// and fails here, named by its property path, writer and reader.
/// </summary>
public sealed class EndpointRoundTripTests
{
    private const string Service = "rt";

    private static readonly string[] Writers = ["api", "cli", "ps"];

    [Fact]
    public async Task Every_endpoint_property_survives_every_client_both_ways()
    {
        await using var server = await TestServer.StartAsync(vipPool: $"127.72.{Random.Shared.Next(100, 200)}.0/24");
        using var client = new MultiVipClient(new ClientConnection(server.Server.Api, server.Server.Token));
        await client.CreateServiceAsync(new CreateServiceRequest { Name = Service });
        for (var i = 0; i < Writers.Length; i++)
        {
            await client.AddVmAsync(Service, new AddVmRequest { Name = Vm(Writers[i]), Address = $"127.72.0.{11 + i}" });
        }

        await client.AddVirtualIpAsync(Service, new AddVirtualIpRequest { Name = "Vip2" });
        await client.AddVirtualIpAsync(Service, new AddVirtualIpRequest { Name = "Vip3" });

        // Add: Add-AzureEndpoint | Update-AzureVM, endpoint add, POST .../endpoints.
        var added = Writers.ToDictionary(w => w, w => Added(w, Array.IndexOf(Writers, w)));
        await client.AddEndpointAsync(Service, Vm("api"), added["api"].ToRequest());
        await RunCliAsync(server, ["endpoint", "add", "--service", Service, "--vm", Vm("cli"), "--name", added["cli"].Name, "--lb-set", added["cli"].LoadBalancedSetName!, .. CliSettings(added["cli"])]);
        var psAdded = await server.PwshAsync(
            AclScript(added["ps"]) +
            Interactive($"Get-AzureVM -ServiceName {Service} -Name {Vm("ps")} | Add-AzureEndpoint -Name {added["ps"].Name} -LBSetName {added["ps"].LoadBalancedSetName} {PowerShellSettings(added["ps"], PowerShellProbe.AddAzureEndpoint)} | Update-AzureVM") +
            ReadScript());
        AssertEveryoneReads(added, await ReadAllAsync(server, client, psAdded), "added");

        // Change the set: Set-AzureLoadBalancedEndpoint, lbset set, PATCH .../load-balanced-sets — the set-wide merge.
        var changed = Writers.ToDictionary(w => w, w => Changed(added[w]));
        await client.SetLoadBalancedSetAsync(Service, changed["api"].LoadBalancedSetName!, SetWide(changed["api"]));
        await RunCliAsync(server, ["lbset", "set", "--service", Service, "--name", changed["cli"].LoadBalancedSetName!, .. CliSettings(changed["cli"])]);
        var psChanged = await server.PwshAsync(
            AclScript(changed["ps"]) +
            Interactive($"Set-AzureLoadBalancedEndpoint -ServiceName {Service} -LBSetName {changed["ps"].LoadBalancedSetName} {PowerShellSettings(changed["ps"], PowerShellProbe.SetAzureLoadBalancedEndpoint)}") +
            ReadScript());
        AssertEveryoneReads(changed, await ReadAllAsync(server, client, psChanged), "changed set-wide");
    }

    [Fact]
    public void Samples_give_every_property_a_value_other_than_its_default_and_the_change_changes_each()
    {
        var added = Added("api", 0);
        var atDefault = Leaves(typeof(InputEndpoint), "").Where(p => IsDefault(ValueAt(added, p), DefaultAt(typeof(InputEndpoint), p))).ToList();
        Assert.True(atDefault.Count == 0, $"The added sample leaves {string.Join(", ", atDefault)} at the default: a client that drops it would pass unseen.");

        var changes = Compare(added, Changed(added)).Select(d => d.Path).ToList();
        var unchanged = Leaves(typeof(InputEndpoint), "")
            .Where(p => p is not nameof(InputEndpoint.Name) and not nameof(InputEndpoint.LoadBalancedSetName))
            .Where(p => !changes.Any(d => Covers(p, d)))
            .ToList();
        Assert.True(unchanged.Count == 0, $"The set-wide change leaves {string.Join(", ", unchanged)} as added: a merge that forgets it would pass unseen.");
    }

    private static string Vm(string writer) => $"vm-{writer}";

    // ---- Samples -----------------------------------------------------------------------------------

    /// <summary>
    /// The endpoint a writer adds: every property set to a value other than its default. Properties
    /// this test does not know yet get one by reflection (<see cref="FillDefaults"/>).
    /// </summary>
    private static InputEndpoint Added(string writer, int index) => FillDefaults(new InputEndpoint
    {
        Name = "rt-endpoint",
        Protocol = TransportProtocol.Udp,
        // Direct server return (below) needs the local port to be the public port.
        LocalPort = 20443 + index,
        PublicPort = 20443 + index,
        VirtualIpName = "Vip2",
        LoadBalancedSetName = $"rt-{writer}",
        Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 8081, Path = "/health", IntervalInSeconds = 7, TimeoutInSeconds = 13 },
        Acl = [new AclRule { Order = 7, Action = AclAction.Deny, RemoteSubnet = "198.51.100.0/24", Description = "rt-acl" }],
        IdleTimeoutInMinutes = 17,
        Distribution = LoadBalancerDistribution.SourceIPProtocol,
        DirectServerReturn = true,
        ProxyProtocol = ProxyProtocolVersion.V2,
    });

    /// <summary>The same endpoint after a set-wide change of every property such a change can carry (all but the name and the set).</summary>
    private static InputEndpoint Changed(InputEndpoint added) => Differ(added with
    {
        Protocol = TransportProtocol.Tcp,
        LocalPort = 9443,
        PublicPort = added.PublicPort + 1000,
        VirtualIpName = "Vip3",
        Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Tcp, Port = 8082, IntervalInSeconds = 8, TimeoutInSeconds = 14 },
        Acl = [new AclRule { Order = 8, Action = AclAction.Permit, RemoteSubnet = "203.0.113.0/24", Description = "rt-acl2" }],
        IdleTimeoutInMinutes = 18,
        Distribution = LoadBalancerDistribution.SourceIP,
        DirectServerReturn = false,
        ProxyProtocol = ProxyProtocolVersion.V1,
    }, added);

    /// <summary>Gives every settable property still at its type's default a value from its type, nested records and list items included.</summary>
    private static T FillDefaults<T>(T value)
        where T : notnull
    {
        var defaults = Activator.CreateInstance(value.GetType())!;
        foreach (var property in Settable(value.GetType()))
        {
            var current = property.GetValue(value);
            if (current is null || (IsLeaf(property.PropertyType) && Equals(current, property.GetValue(defaults))))
            {
                property.SetValue(value, Generate(property.PropertyType, current, avoidDefault: true, $"{value.GetType().Name}.{property.Name}"));
            }
            else if (current is IEnumerable items and not string)
            {
                foreach (var item in items)
                {
                    FillDefaults(item);
                }
            }
            else if (!IsLeaf(property.PropertyType))
            {
                FillDefaults(current);
            }
        }

        return value;
    }

    /// <summary>Makes every value of <paramref name="value"/> still equal to <paramref name="before"/>'s differ from it, nested ones included.</summary>
    private static T Differ<T>(T value, T before)
        where T : notnull
    {
        foreach (var property in Settable(value.GetType()).Where(p => p.Name is not nameof(InputEndpoint.Name) and not nameof(InputEndpoint.LoadBalancedSetName)))
        {
            var current = property.GetValue(value);
            var prior = property.GetValue(before);
            if (IsLeaf(property.PropertyType))
            {
                if (Equals(current, prior))
                {
                    property.SetValue(value, Generate(property.PropertyType, current, avoidDefault: false, $"{value.GetType().Name}.{property.Name}"));
                }
            }
            else if (current is IEnumerable items and not string && prior is IEnumerable priorItems)
            {
                foreach (var (item, priorItem) in items.Cast<object>().Zip(priorItems.Cast<object>()))
                {
                    Differ(item, priorItem);
                }
            }
            else if (current is not null && prior is not null)
            {
                Differ(current, prior);
            }
        }

        return value;
    }

    /// <summary>A value of <paramref name="type"/> other than <paramref name="other"/> (and, if asked, than the type's default).</summary>
    private static object Generate(Type type, object? other, bool avoidDefault, string what)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(bool))
        {
            return other is not true;
        }

        if (t.IsEnum)
        {
            var fallback = Activator.CreateInstance(t);
            return Enum.GetValues(t).Cast<object>().Last(v => !Equals(v, other) && !(avoidDefault && Equals(v, fallback)));
        }

        if (t == typeof(int))
        {
            return (other as int? ?? 0) + 7;
        }

        if (t == typeof(string))
        {
            return $"{other}x";
        }

        Assert.Fail($"{what} is of type {t.Name}, which this test cannot give a sample value yet: add a case to {nameof(Generate)}.");
        throw new InvalidOperationException("unreachable");
    }

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    private static bool IsLeaf(Type type) =>
        type.IsValueType || type == typeof(string) || Nullable.GetUnderlyingType(type) is not null;

    // ---- Writers -----------------------------------------------------------------------------------

    /// <summary>The CLI options that carry the settings of <paramref name="e"/> (endpoint add and lbset set share them).</summary>
    private static string[] CliSettings(InputEndpoint e) =>
    [
        "--protocol", e.Protocol.ToWire(),
        "--local-port", Text(e.LocalPort),
        "--public-port", Text(e.PublicPort),
        "--vip", e.VirtualIpName,
        "--probe-protocol", e.Probe!.Protocol.ToWire(),
        "--probe-port", Text(e.Probe.Port),
        .. (e.Probe.Path is { } path ? new[] { "--probe-path", path } : []),
        "--probe-interval", Text(e.Probe.IntervalInSeconds),
        "--probe-timeout", Text(e.Probe.TimeoutInSeconds),
        .. e.Acl.SelectMany(r => new[] { "--acl", $"{Text(r.Order)}:{r.Action.ToWire()}:{r.RemoteSubnet}:{r.Description}" }),
        "--idle-timeout", Text(e.IdleTimeoutInMinutes),
        "--distribution", e.Distribution.ToWire(),
        "--dsr", e.DirectServerReturn ? "true" : "false",
        "--proxy-protocol", e.ProxyProtocol.ToWire(),
    ];

    private enum PowerShellProbe
    {
        AddAzureEndpoint,
        SetAzureLoadBalancedEndpoint,
    }

    /// <summary>The parameters that carry the settings of <paramref name="e"/>; the probe's are spelled per cmdlet, as in Azure.</summary>
    private static string PowerShellSettings(InputEndpoint e, PowerShellProbe probe)
    {
        var p = e.Probe!;
        var probeParameters = (probe == PowerShellProbe.AddAzureEndpoint ? $"-ProbeProtocol {p.Protocol.ToWire()}" : $"-ProbeProtocol{p.Protocol.ToWire().ToUpperInvariant()}")
            + (p.Path is null ? string.Empty : $" -ProbePath {p.Path}");
        return $"-Protocol {e.Protocol.ToWire()} -LocalPort {Text(e.LocalPort)} -PublicPort {Text(e.PublicPort)} -VirtualIPName {e.VirtualIpName} "
            + $"{probeParameters} -ProbePort {Text(p.Port)} -ProbeIntervalInSeconds {Text(p.IntervalInSeconds)} -ProbeTimeoutInSeconds {Text(p.TimeoutInSeconds)} "
            + $"-ACL $acl -IdleTimeoutInMinutes {Text(e.IdleTimeoutInMinutes)} -LoadBalancerDistribution {e.Distribution.ToWire()} "
            + $"-DirectServerReturn ${(e.DirectServerReturn ? "true" : "false")} -ProxyProtocol {e.ProxyProtocol.ToWire()}";
    }

    /// <summary>Runs one statement so that a terminating error prints as "ERROR: ..." (see <see cref="Pwsh.Prelude"/>).</summary>
    private static string Interactive(string statement) => $"'=== write'\n. Invoke-Interactive @'\n{statement}\n'@\n";

    private static string AclScript(InputEndpoint e) =>
        "$acl = New-AzureAclConfig\n" + string.Concat(e.Acl.Select(r =>
            $"Set-AzureAclConfig -AddRule -ACL $acl -Action {r.Action} -RemoteSubnet {r.RemoteSubnet} -Order {Text(r.Order)} -Description '{r.Description}'\n"));

    /// <summary>Set-AzureLoadBalancedEndpoint's body: every setting of <paramref name="e"/>, copied from its request by reflection.</summary>
    private static SetLoadBalancedSetRequest SetWide(InputEndpoint e)
    {
        var request = e.ToRequest();
        var change = new SetLoadBalancedSetRequest();
        foreach (var property in typeof(EndpointSettings).GetProperties())
        {
            property.SetValue(change, property.GetValue(request));
        }

        return change;
    }

    private static async Task<CliRun> RunCliAsync(TestServer server, string[] args)
    {
        var run = await TestCli.RunAsync([.. args, "--api", server.Server.Api.ToString(), "--token", server.Server.Token, "--data-dir", Path.Combine(server.DataDir, "cli-none")]);
        Assert.True(run.ExitCode == 0, $"multivip {string.Join(' ', args)} exited {run.ExitCode}: {run.Error}");
        return run;
    }

    // ---- Readers -----------------------------------------------------------------------------------

    private static string ReadScript() => string.Concat(Writers.Select(w =>
        $"'=== {w}'\nGet-AzureVM -ServiceName {Service} -Name {Vm(w)} | Get-AzureEndpoint | ConvertTo-Json -Depth 6 -AsArray -Compress\n")) + "'=== end'\n";

    /// <summary>What each reader (api, cli, ps) reads of each writer's endpoint.</summary>
    private static async Task<Dictionary<(string Writer, string Reader), InputEndpoint>> ReadAllAsync(TestServer server, MultiVipClient client, PwshResult ps)
    {
        Assert.True(Output.Errors(ps.Output).Count == 0, $"pwsh refused the write:\n{ps.Output}\n{ps.Error}");
        var read = new Dictionary<(string, string), InputEndpoint>();
        foreach (var writer in Writers)
        {
            read[(writer, "api")] = Assert.Single((await client.GetVmAsync(Service, Vm(writer))).Value.Endpoints);
            var cli = await RunCliAsync(server, ["endpoint", "list", "--service", Service, "--vm", Vm(writer), "--output", "json"]);
            read[(writer, "cli")] = Assert.Single(JsonSerializer.Deserialize<List<InputEndpoint>>(cli.Out, ApiJson.Options)!);
            var psJson = Output.NonEmpty(ps.Section(writer)).Single();
            read[(writer, "ps")] = FromPowerShell(Assert.Single(JsonDocument.Parse(psJson).RootElement.EnumerateArray().ToList()));
        }

        return read;
    }

    /// <summary>Get-AzureEndpoint's object (Azure's property names) as the domain endpoint it shows.</summary>
    private static InputEndpoint FromPowerShell(JsonElement e)
    {
        string? S(string name) => e.GetProperty(name).GetString();
        int I(string name) => e.GetProperty(name).GetInt32();
        return new InputEndpoint
        {
            Name = S("Name")!,
            Protocol = EnumParsing.ParseProtocol(S("Protocol")!),
            LocalPort = I("LocalPort"),
            PublicPort = I("Port"),
            VirtualIpName = S("VirtualIPName")!,
            LoadBalancedSetName = S("LBSetName"),
            Probe = S("ProbeProtocol") is { } probe
                ? new LoadBalancerProbe
                {
                    Protocol = EnumParsing.ParseProbeProtocol(probe),
                    Port = I("ProbePort"),
                    Path = S("ProbePath"),
                    IntervalInSeconds = I("ProbeIntervalInSeconds"),
                    TimeoutInSeconds = I("ProbeTimeoutInSeconds"),
                }
                : null,
            Acl = e.GetProperty("Acl").EnumerateArray().Select(r => new AclRule
            {
                Order = r.GetProperty("Order").GetInt32(),
                Action = EnumParsing.ParseAclAction(r.GetProperty("Action").GetString()!),
                RemoteSubnet = r.GetProperty("RemoteSubnet").GetString()!,
                Description = r.GetProperty("Description").GetString(),
            }).ToList(),
            IdleTimeoutInMinutes = I("IdleTimeoutInMinutes"),
            Distribution = EnumParsing.ParseDistribution(S("LoadBalancerDistribution")!),
            DirectServerReturn = e.GetProperty("EnableDirectServerReturn").GetBoolean(),
            ProxyProtocol = EnumParsing.ParseProxyProtocol(S("ProxyProtocol")!),
        };
    }

    // ---- Comparison --------------------------------------------------------------------------------

    private sealed record Difference(string Path, object? Expected, object? Actual);

    private static void AssertEveryoneReads(Dictionary<string, InputEndpoint> written, Dictionary<(string Writer, string Reader), InputEndpoint> read, string phase)
    {
        var failures = read
            .SelectMany(r => Compare(written[r.Key.Writer], r.Value)
                .Select(d => $"{phase}: InputEndpoint.{d.Path} written through {r.Key.Writer}, read through {r.Key.Reader}: expected {d.Expected ?? "null"}, got {d.Actual ?? "null"}"))
            .ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>The value at a property path such as Probe.Port.</summary>
    private static object? ValueAt(object? root, string path) =>
        path.Split('.').Aggregate(root, (value, name) => value?.GetType().GetProperty(name)!.GetValue(value));

    /// <summary>The default at a property path: what a new instance holds there (a nested record made new where it is null).</summary>
    private static object? DefaultAt(Type type, string path)
    {
        var current = Activator.CreateInstance(type);
        foreach (var name in path.Split('.'))
        {
            var property = current!.GetType().GetProperty(name)!;
            current = property.GetValue(current) ?? (IsLeaf(property.PropertyType) ? null : Activator.CreateInstance(property.PropertyType));
        }

        return current;
    }

    private static bool IsDefault(object? value, object? @default) =>
        value is IEnumerable items and not string ? !items.Cast<object>().Any() : Equals(value, @default);

    /// <summary>Whether a difference at <paramref name="difference"/> is one of the property at <paramref name="path"/> (or inside it).</summary>
    private static bool Covers(string path, string difference) =>
        difference == path || difference.StartsWith(path + ".", StringComparison.Ordinal) || difference.StartsWith(path + "[", StringComparison.Ordinal);

    /// <summary>Every property path of <paramref name="type"/>, walking into nested records (not into lists).</summary>
    private static IEnumerable<string> Leaves(Type type, string prefix) =>
        Settable(type).SelectMany(p => IsLeaf(p.PropertyType) || typeof(IEnumerable).IsAssignableFrom(p.PropertyType)
            ? [prefix + p.Name]
            : Leaves(p.PropertyType, prefix + p.Name + "."));

    /// <summary>Property by property, by reflection: the paths where <paramref name="actual"/> differs from <paramref name="expected"/>.</summary>
    private static IEnumerable<Difference> Compare(object? expected, object? actual, string path = "")
    {
        if (expected is null || actual is null || IsLeaf(expected.GetType()))
        {
            if (!Equals(expected, actual))
            {
                yield return new Difference(path.TrimEnd('.'), expected, actual);
            }

            yield break;
        }

        if (expected is IEnumerable expectedItems and not string && actual is IEnumerable actualItems)
        {
            var expectedList = expectedItems.Cast<object>().ToList();
            var actualList = actualItems.Cast<object>().ToList();
            if (expectedList.Count != actualList.Count)
            {
                yield return new Difference(path.TrimEnd('.') + ".Count", expectedList.Count, actualList.Count);
                yield break;
            }

            for (var i = 0; i < expectedList.Count; i++)
            {
                foreach (var d in Compare(expectedList[i], actualList[i], $"{path.TrimEnd('.')}[{i}]."))
                {
                    yield return d;
                }
            }

            yield break;
        }

        foreach (var property in Settable(expected.GetType()))
        {
            foreach (var d in Compare(property.GetValue(expected), property.GetValue(actual), path + property.Name + "."))
            {
                yield return d;
            }
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
