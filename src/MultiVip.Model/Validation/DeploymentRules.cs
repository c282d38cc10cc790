using MultiVip.Model.Errors;
using MultiVip.Model.Services;

namespace MultiVip.Model.Validation;

/// <summary>
/// Invariants of a whole cloud service: the one place the server checks a change. Commands build the
/// new state and run <see cref="Check"/> on it before anything is stored, which records every rule
/// the change breaks (so one refusal lists them all). Since the previous state was valid, any
/// violation comes from the change, and the VM named <c>changedVm</c> is checked last so messages
/// point at the endpoint the user touched.
/// </summary>
public static class DeploymentRules
{
    public static void Validate(CloudService service, ServiceLimits limits, string? changedVm = null) =>
        Violations.Throw(v => Check(service, limits, v, changedVm));

    public static void Check(CloudService service, ServiceLimits limits, Violations violations, string? changedVm = null)
    {
        Service(service, violations);
        var deployment = service.Deployment;
        if (deployment is null)
        {
            return;
        }

        VirtualIps(deployment, limits, violations);
        Vms(deployment, limits, violations);

        var ordered = deployment.VirtualMachines
            .OrderBy(vm => Names.Equal(vm.Name, changedVm) ? 1 : 0)
            .ToList();

        var total = 0;
        foreach (var vm in ordered)
        {
            VmEndpoints(service.Name, deployment, vm, limits, violations);
            total += vm.Endpoints.Count;
        }

        if (total > limits.MaxEndpointsPerService)
        {
            violations.Conflict(Messages.TooManyEndpoints(limits.MaxEndpointsPerService));
        }

        PublicPorts(ordered, violations);
        LoadBalancedSets(ordered, violations);
    }

    /// <summary>The service's own fields: its DNS-label name and free-text label, description and location.</summary>
    public static void Service(CloudService service, Violations violations)
    {
        NameRules.ServiceName(service.Name, violations);
        if (!string.Equals(service.Label, service.Name, StringComparison.Ordinal))
        {
            // A label that defaulted to the name is as valid as the name; checked once, as the name.
            NameRules.Text("label", service.Label, violations);
        }

        NameRules.Text("description", service.Description, violations, 1024);
        NameRules.Text("location", service.Location, violations, 64);
    }

    /// <summary>A VM's own fields: its name and its internal address.</summary>
    public static void Vm(VirtualMachine vm, Violations violations)
    {
        NameRules.ResourceName("VM", vm.Name, violations);
        NameRules.VmAddress(vm.Address, violations);
    }

    private static void VirtualIps(Deployment deployment, ServiceLimits limits, Violations violations)
    {
        if (deployment.VirtualIps.Count > limits.MaxVirtualIpsPerDeployment)
        {
            violations.Conflict(Messages.TooManyVirtualIps(limits.MaxVirtualIpsPerDeployment));
        }

        var names = new HashSet<string>(Names.Comparer);
        foreach (var vip in deployment.VirtualIps)
        {
            NameRules.ResourceName("virtual IP", vip.Name, violations);
            if (!names.Add(vip.Name))
            {
                violations.Conflict(Messages.VirtualIpExists(vip.Name, deployment.Name));
            }
        }

        if (deployment.VirtualIps.Count(v => v.IsDnsProgrammed) != 1)
        {
            throw new InvalidOperationException("A deployment must have exactly one default virtual IP.");
        }
    }

    private static void Vms(Deployment deployment, ServiceLimits limits, Violations violations)
    {
        if (deployment.VirtualMachines.Count > limits.MaxVmsPerService)
        {
            violations.Conflict(Messages.TooManyVms(limits.MaxVmsPerService));
        }

        var names = new HashSet<string>(Names.Comparer);
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var vm in deployment.VirtualMachines)
        {
            Vm(vm, violations);
            if (!names.Add(vm.Name))
            {
                violations.Conflict(Messages.VmExists(vm.Name, deployment.Name));
            }

            if (!addresses.TryAdd(vm.Address, vm.Name))
            {
                violations.Conflict(Messages.VmAddressInUse(vm.Address, addresses[vm.Address]));
            }
        }
    }

    private static void VmEndpoints(string serviceName, Deployment deployment, VirtualMachine vm, ServiceLimits limits, Violations violations)
    {
        var sets = new HashSet<string>(Names.Comparer);
        EndpointRules.UniqueOnVm(vm.Endpoints, violations);
        foreach (var endpoint in vm.Endpoints)
        {
            EndpointRules.Check(endpoint, limits, violations);
            if (deployment.FindVirtualIp(endpoint.VirtualIpName) is null)
            {
                violations.NotFound(Messages.VirtualIpNotFound(endpoint.VirtualIpName, serviceName));
            }

            if (endpoint.LoadBalancedSetName is { } set && !sets.Add(set))
            {
                violations.Conflict(Messages.LoadBalancedSetTwiceOnVm(set, vm.Name));
            }
        }
    }

    private static void PublicPorts(IEnumerable<VirtualMachine> vms, Violations violations)
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
                    violations.Conflict(Messages.PublicPortInUse(
                        endpoint.PublicPort, endpoint.Protocol.ToWire(), endpoint.VirtualIpName, owner.Vm.Name, owner.Endpoint.Name));
                }
            }
        }
    }

    private static void LoadBalancedSets(IEnumerable<VirtualMachine> vms, Violations violations)
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

            Same(violations, set, "VirtualIPName", expected.VirtualIpName.ToUpperInvariant(), endpoint.VirtualIpName.ToUpperInvariant(), expected.VirtualIpName, endpoint.VirtualIpName);
            Same(violations, set, "Protocol", expected.Protocol, endpoint.Protocol, expected.Protocol.ToWire(), endpoint.Protocol.ToWire());
            Same(violations, set, "PublicPort", expected.PublicPort, endpoint.PublicPort, expected.PublicPort.ToString(System.Globalization.CultureInfo.InvariantCulture), endpoint.PublicPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Same(violations, set, "the probe", expected.Probe, endpoint.Probe, Describe(expected.Probe), Describe(endpoint.Probe));
            Same(violations, set, "LoadBalancerDistribution", expected.Distribution, endpoint.Distribution, expected.Distribution.ToWire(), endpoint.Distribution.ToWire());
            Same(violations, set, "IdleTimeoutInMinutes", expected.IdleTimeoutInMinutes, endpoint.IdleTimeoutInMinutes, expected.IdleTimeoutInMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture), endpoint.IdleTimeoutInMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Same(violations, set, "the PROXY protocol setting", expected.ProxyProtocol, endpoint.ProxyProtocol, expected.ProxyProtocol.ToString(), endpoint.ProxyProtocol.ToString());
            Same(violations, set, "EnableDirectServerReturn", expected.DirectServerReturn, endpoint.DirectServerReturn, expected.DirectServerReturn.ToString(), endpoint.DirectServerReturn.ToString());
            if (!AclEquals(expected.Acl, endpoint.Acl))
            {
                violations.Conflict(Messages.LoadBalancedSetMismatch(
                    set, "the ACL", $"{expected.Acl.Count} rule(s)", $"{endpoint.Acl.Count} different rule(s)"));
            }
        }
    }

    private static void Same<T>(Violations violations, string set, string field, T expected, T actual, string expectedText, string actualText)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            violations.Conflict(Messages.LoadBalancedSetMismatch(set, field, expectedText, actualText));
        }
    }

    public static string Describe(LoadBalancerProbe? probe) => probe is null
        ? "no probe"
        : $"{probe.Protocol.ToWire()} probe on port {probe.Port}{(probe.Path is null ? "" : " path " + probe.Path)} every {probe.IntervalInSeconds}s, timeout {probe.TimeoutInSeconds}s";

    public static bool AclEquals(IReadOnlyList<AclRule> a, IReadOnlyList<AclRule> b) =>
        a.Count == b.Count && a.OrderBy(r => r.Order).SequenceEqual(b.OrderBy(r => r.Order));
}
