using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Model.Validation;

/// <summary>
/// Invariants of a whole cloud service. Commands build the new state and call <see cref="Validate"/>
/// before anything is stored; since the previous state was valid, any violation comes from the change,
/// and the VM named <c>changedVm</c> is checked last so messages point at the endpoint the user touched.
/// </summary>
public static class DeploymentRules
{
    public static void Validate(CloudService service, ServiceLimits limits, string? changedVm = null)
    {
        var deployment = service.Deployment;
        if (deployment is null)
        {
            return;
        }

        VirtualIps(deployment, limits);
        Vms(deployment, limits);

        var ordered = deployment.VirtualMachines
            .OrderBy(vm => Names.Equal(vm.Name, changedVm) ? 1 : 0)
            .ToList();

        var total = 0;
        foreach (var vm in ordered)
        {
            VmEndpoints(service.Name, deployment, vm, limits);
            total += vm.Endpoints.Count;
        }

        if (total > limits.MaxEndpointsPerService)
        {
            throw MultiVipException.Conflict(Messages.TooManyEndpoints(limits.MaxEndpointsPerService));
        }

        PublicPorts(ordered);
        LoadBalancedSets(ordered);
    }

    private static void VirtualIps(Deployment deployment, ServiceLimits limits)
    {
        if (deployment.VirtualIps.Count > limits.MaxVirtualIpsPerDeployment)
        {
            throw MultiVipException.Conflict(Messages.TooManyVirtualIps(limits.MaxVirtualIpsPerDeployment));
        }

        var names = new HashSet<string>(Names.Comparer);
        foreach (var vip in deployment.VirtualIps)
        {
            NameRules.ResourceName("virtual IP", vip.Name);
            if (!names.Add(vip.Name))
            {
                throw MultiVipException.Conflict(Messages.VirtualIpExists(vip.Name, deployment.Name));
            }
        }

        if (deployment.VirtualIps.Count(v => v.IsDnsProgrammed) != 1)
        {
            throw new InvalidOperationException("A deployment must have exactly one default virtual IP.");
        }
    }

    private static void Vms(Deployment deployment, ServiceLimits limits)
    {
        if (deployment.VirtualMachines.Count > limits.MaxVmsPerService)
        {
            throw MultiVipException.Conflict(Messages.TooManyVms(limits.MaxVmsPerService));
        }

        var names = new HashSet<string>(Names.Comparer);
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var vm in deployment.VirtualMachines)
        {
            if (!names.Add(vm.Name))
            {
                throw MultiVipException.Conflict(Messages.VmExists(vm.Name, deployment.Name));
            }

            if (!addresses.TryAdd(vm.Address, vm.Name))
            {
                throw MultiVipException.Conflict(Messages.VmAddressInUse(vm.Address, addresses[vm.Address]));
            }
        }
    }

    private static void VmEndpoints(string serviceName, Deployment deployment, VirtualMachine vm, ServiceLimits limits)
    {
        var names = new HashSet<string>(Names.Comparer);
        var localPorts = new HashSet<(TransportProtocol, int)>();
        var sets = new HashSet<string>(Names.Comparer);
        foreach (var endpoint in vm.Endpoints)
        {
            EndpointRules.Validate(endpoint, limits);
            if (!names.Add(endpoint.Name))
            {
                throw MultiVipException.Conflict(Messages.EndpointNameExists(endpoint.Name));
            }

            if (!localPorts.Add((endpoint.Protocol, endpoint.LocalPort)))
            {
                throw MultiVipException.Conflict(Messages.LocalPortInUse(endpoint.LocalPort, endpoint.Name));
            }

            if (deployment.FindVirtualIp(endpoint.VirtualIpName) is null)
            {
                throw MultiVipException.NotFound(Messages.VirtualIpNotFound(endpoint.VirtualIpName, serviceName));
            }

            if (endpoint.LoadBalancedSetName is { } set && !sets.Add(set))
            {
                throw MultiVipException.Conflict(Messages.LoadBalancedSetTwiceOnVm(set, vm.Name));
            }
        }
    }

    private static void PublicPorts(IEnumerable<VirtualMachine> vms)
    {
        var owners = new Dictionary<(string Vip, TransportProtocol Protocol, int Port), (VirtualMachine Vm, InputEndpoint Endpoint)>();
        foreach (var vm in vms)
        {
            foreach (var endpoint in vm.Endpoints)
            {
                var key = (endpoint.VirtualIpName.ToUpperInvariant(), endpoint.Protocol, endpoint.PublicPort);
                if (!owners.TryGetValue(key, out var owner))
                {
                    owners[key] = (vm, endpoint);
                    continue;
                }

                var sameSet = endpoint.LoadBalancedSetName is not null
                    && Names.Equal(endpoint.LoadBalancedSetName, owner.Endpoint.LoadBalancedSetName);
                if (!sameSet)
                {
                    throw MultiVipException.Conflict(Messages.PublicPortInUse(
                        endpoint.PublicPort, endpoint.Protocol.ToWire(), endpoint.VirtualIpName, owner.Vm.Name, owner.Endpoint.Name));
                }
            }
        }
    }

    private static void LoadBalancedSets(IEnumerable<VirtualMachine> vms)
    {
        var first = new Dictionary<string, InputEndpoint>(Names.Comparer);
        foreach (var endpoint in vms.SelectMany(vm => vm.Endpoints))
        {
            if (endpoint.LoadBalancedSetName is not { } set)
            {
                continue;
            }

            if (!first.TryGetValue(set, out var expected))
            {
                first[set] = endpoint;
                continue;
            }

            Same(set, "VirtualIPName", expected.VirtualIpName.ToUpperInvariant(), endpoint.VirtualIpName.ToUpperInvariant(), expected.VirtualIpName, endpoint.VirtualIpName);
            Same(set, "Protocol", expected.Protocol, endpoint.Protocol, expected.Protocol.ToWire(), endpoint.Protocol.ToWire());
            Same(set, "PublicPort", expected.PublicPort, endpoint.PublicPort, expected.PublicPort.ToString(System.Globalization.CultureInfo.InvariantCulture), endpoint.PublicPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Same(set, "the probe", expected.Probe, endpoint.Probe, Describe(expected.Probe), Describe(endpoint.Probe));
            Same(set, "LoadBalancerDistribution", expected.Distribution, endpoint.Distribution, expected.Distribution.ToWire(), endpoint.Distribution.ToWire());
            Same(set, "IdleTimeoutInMinutes", expected.IdleTimeoutInMinutes, endpoint.IdleTimeoutInMinutes, expected.IdleTimeoutInMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture), endpoint.IdleTimeoutInMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Same(set, "the PROXY protocol setting", expected.ProxyProtocol, endpoint.ProxyProtocol, expected.ProxyProtocol.ToString(), endpoint.ProxyProtocol.ToString());
            Same(set, "EnableDirectServerReturn", expected.DirectServerReturn, endpoint.DirectServerReturn, expected.DirectServerReturn.ToString(), endpoint.DirectServerReturn.ToString());
            if (!AclEquals(expected.Acl, endpoint.Acl))
            {
                throw MultiVipException.Conflict(Messages.LoadBalancedSetMismatch(
                    set, "the ACL", $"{expected.Acl.Count} rule(s)", $"{endpoint.Acl.Count} different rule(s)"));
            }
        }
    }

    private static void Same<T>(string set, string field, T expected, T actual, string expectedText, string actualText)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            throw MultiVipException.Conflict(Messages.LoadBalancedSetMismatch(set, field, expectedText, actualText));
        }
    }

    public static string Describe(LoadBalancerProbe? probe) => probe is null
        ? "no probe"
        : $"{probe.Protocol.ToWire()} probe on port {probe.Port}{(probe.Path is null ? "" : " path " + probe.Path)} every {probe.IntervalInSeconds}s, timeout {probe.TimeoutInSeconds}s";

    public static bool AclEquals(IReadOnlyList<AclRule> a, IReadOnlyList<AclRule> b) =>
        a.Count == b.Count && a.OrderBy(r => r.Order).SequenceEqual(b.OrderBy(r => r.Order));
}
