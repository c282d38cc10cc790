using System.Globalization;

namespace MultiVip.Model.Errors;

/// <summary>
/// Every user-facing message in one place. Texts marked "Azure" are the classic Service Management
/// messages word for word (see shared/reference/azure-classic-multivip.md); the rest are ours and
/// always say what was wrong and how to fix it.
/// </summary>
public static class Messages
{
    // Azure
    public const string PortRange = "Ports must be in the range of 1 - 65535";
    public const string ProbePathNotValidWithTcp = "ProbePath not valid with tcp";
    public const string ProbePathRequiredForHttp = "ProbePath is required for http";
    public const string RemoveVirtualIpConfirmation =
        "This cmdlet will remove the virtual IP from the specified service. Do you want to continue?";

    // Azure
    public static string EndpointNameExists(string name) => F(
        "An endpoint named '{0}' has already been defined for this VM. Specify a different endpoint name or use Set-Endpoint to change the configuration settings of the existing endpoint.",
        name);

    // Azure
    public static string LocalPortInUse(int port, string endpoint) => F(
        "Local Port {0} for endpoint {1} is already in use by one of the other endpoints in this role. Ensure that the local port numbers are unique across endpoints within a role.",
        port, endpoint);

    // Azure
    public static string LoadBalancedSetNotFound(string name) => F(
        "An endpoint cannot be found with the given load balancer set name '{0}'.", name);

    // Azure
    public static string EndpointNotFound(string name) => F(
        "An endpoint named '{0}' cannot be found in the configuration of this VM.", name);

    public static string DirectServerReturnPorts(string endpoint, int localPort, int publicPort) => F(
        "The endpoint '{0}' has EnableDirectServerReturn (floating IP): its local port {1} must equal the public port {2}, since the VM receives the packets still addressed to the VIP and port {2}. Set the local port to {2} (and have the service listen on it), or turn direct server return off.",
        endpoint, localPort, publicPort);

    public static string PublicPortInUse(int port, string protocol, string vip, string vm, string endpoint) => F(
        "Public port {0}/{1} on virtual IP '{2}' is already used by endpoint '{4}' of VM '{3}'. Ensure that public ports are unique per virtual IP and protocol, or put both endpoints in the same load-balanced set.",
        port, protocol, vip, vm, endpoint);

    public static string LoadBalancedSetMismatch(string set, string field, string expected, string actual) => F(
        "Endpoints of load-balanced set '{0}' must share {1}: the set uses {2}, this endpoint has {3}. Use the same value, or change the whole set with Set-AzureLoadBalancedEndpoint (multivip lbset set).",
        set, field, expected, actual);

    public static string LoadBalancedSetTwiceOnVm(string set, string vm) => F(
        "VM '{1}' already has an endpoint in load-balanced set '{0}'. A VM can be a member of a load-balanced set only once.",
        set, vm);

    public const string ProbeWithoutLoadBalancedSet =
        "A probe can only be configured on an endpoint in a load-balanced set: endpoints outside a set always send traffic to their VM. Add --lb-set (-LoadBalancedEndpointSetName) or drop the probe options.";

    public static string ProbeInterval(int value) => F(
        "The probe interval must be at least 5 seconds and at most 3600 seconds (got {0}).", value);

    public static string ProbeTimeout(int value) => F(
        "The probe timeout must be at least 11 seconds and at most 3600 seconds (got {0}).", value);

    public static string ProbeProtocol(string value) => F(
        "'{0}' is not a probe protocol. Use tcp or http.", value);

    public static string Protocol(string value) => F(
        "'{0}' is not an endpoint protocol. Use tcp or udp.", value);

    public static string Distribution(string value) => F(
        "'{0}' is not a load balancer distribution. Use none (5-tuple), sourceIP (2-tuple) or sourceIPProtocol (3-tuple).",
        value);

    public static string IdleTimeout(int value) => F(
        "The idle timeout must be between 4 and 30 minutes (got {0}).", value);

    public static string AclRuleCount(int max, int actual) => F(
        "An endpoint can have at most {0} ACL rules (got {1}). Merge rules by using wider subnets.", max, actual);

    public static string AclOrderDuplicate(int order) => F(
        "Two ACL rules have order {0}. Give every rule of an endpoint a distinct order.", order);

    public static string AclOrder(int order) => F(
        "ACL rule order {0} is out of range. Use an order from 0 to 65535.", order);

    public static string AclAction(string value) => F(
        "'{0}' is not an ACL action. Use permit or deny.", value);

    public static string AclDescription(int max) => F(
        "An ACL rule description can be at most {0} characters long.", max);

    public static string InvalidCidr(string value) => F(
        "'{0}' is not a valid subnet. Write it as address/prefix, for example 10.0.0.0/8, 203.0.113.7/32 or 2001:db8::/32.",
        value);

    public static string InvalidRange(string value) => F(
        "'{0}' is not a valid address pool. Use a CIDR (127.100.0.0/16, 2001:db8:100::/120) or a range (127.100.0.10-127.100.0.200) of IPv4 or IPv6 addresses.",
        value);

    public static string InvalidAddress(string value) => F(
        "'{0}' is not a valid IP address for a VM. Give the VM's internal address, for example 10.0.0.4 or 127.0.0.1.",
        value);

    public static string Name(string kind, string value, string rule) => F(
        "'{1}' is not a valid {0} name: {2}", kind, value, rule);

    public static string Required(string what) => F("{0} is required.", what);

    // Services and deployments
    public static string ServiceNotFound(string name) => F(
        "The cloud service '{0}' does not exist. Create it first (New-AzureService / multivip service create) or check the name with multivip service list.",
        name);

    public static string ServiceExists(string name) => F(
        "A cloud service named '{0}' already exists. Choose another name.", name);

    public static string ServiceHasDeployment(string name, int vms) => F(
        "The cloud service '{0}' still has a deployment with {1} VM(s). Remove its VMs first, or delete everything with --delete-all (Remove-AzureService -DeleteAll).",
        name, vms);

    public static string NoDeployment(string service) => F(
        "The cloud service '{0}' has no deployment yet. Add a VM (New-AzureVM / multivip vm add) to create its Production deployment.",
        service);

    public static string VmNotFound(string vm, string service) => F(
        "The VM '{0}' does not exist in cloud service '{1}'. List the VMs with multivip vm list --service {1}.",
        vm, service);

    public static string VmExists(string vm, string service) => F(
        "A VM named '{0}' already exists in cloud service '{1}'. Choose another name.", vm, service);

    public static string VmAddressInUse(string address, string vm) => F(
        "The internal address {0} is already registered for VM '{1}' in this cloud service. Each VM needs its own address.",
        address, vm);

    public static string TooManyVms(int max) => F(
        "A cloud service can have at most {0} VMs. Remove a VM or raise the limit (--max-vms-per-service).", max);

    public static string TooManyEndpoints(int max) => F(
        "A cloud service can have at most {0} input endpoints. Remove an endpoint or raise the limit (--max-endpoints-per-service).",
        max);

    // Virtual IPs
    public static string VirtualIpNotFound(string vip, string service) => F(
        "The virtual IP '{0}' does not exist in the deployment of cloud service '{1}'. Add it with Add-AzureVirtualIP (multivip vip add) or use one of the VIPs that deployment show lists.",
        vip, service);

    public static string VirtualIpExists(string vip, string service) => F(
        "The virtual IP '{0}' already exists in the deployment of cloud service '{1}'.", vip, service);

    public static string TooManyVirtualIps(int max) => F(
        "A deployment can have at most {0} virtual IPs. Remove an unused virtual IP or raise the limit (--max-vips-per-deployment).",
        max);

    public static string VirtualIpHasEndpoints(string vip, string endpoints) => F(
        "The virtual IP '{0}' cannot be removed because endpoints are associated with it: {1}. Remove those endpoints or move them to another virtual IP first.",
        vip, endpoints);

    public static string DefaultVirtualIpCannotBeRemoved(string vip) => F(
        "The virtual IP '{0}' is the deployment's default virtual IP (IsDnsProgrammed) and cannot be removed.", vip);

    public static string VirtualIpReserved(string vip, string reserved) => F(
        "The virtual IP '{0}' is backed by reserved IP '{1}'. Remove the association first (Remove-AzureReservedIPAssociation / multivip reserved-ip disassociate).",
        vip, reserved);

    // Address management
    public static string NoPoolOfFamily(Services.VipAddressFamily family, string pools) => F(
        "The VIP pool ({1}) has no {0} addresses, so an {0} virtual IP cannot get one. Start the server with a --vip-pool of {0} addresses (such as {2}) or use the other address family.",
        family, pools, family == Services.VipAddressFamily.IPv6 ? "2001:db8:100::/120" : "127.100.0.0/16");

    public static string ReservedIpFamilyMismatch(string reserved, Services.VipAddressFamily reservedFamily, string vip, Services.VipAddressFamily vipFamily) => F(
        "The reserved IP '{0}' is an {1} address and the virtual IP '{2}' is {3}. Associate a reserved IP of the virtual IP's family.",
        reserved, reservedFamily, vip, vipFamily);

    public static string PoolExhausted(string pools) => F(
        "The VIP address pool is exhausted: every address of {0} is in use or reserved. Free addresses (remove endpoints of extra VIPs, delete reserved IPs) or start the server with a larger --vip-pool.",
        pools);

    // Reserved IPs
    public static string ReservedIpNotFound(string name) => F(
        "The reserved IP '{0}' does not exist. List reserved IPs with Get-AzureReservedIP (multivip reserved-ip list).", name);

    public static string ReservedIpExists(string name) => F(
        "A reserved IP named '{0}' already exists. Choose another name.", name);

    public static string ReservedIpInUse(string name, string service, string vip) => F(
        "The reserved IP '{0}' is in use by virtual IP '{2}' of cloud service '{1}'. Remove the association first (Remove-AzureReservedIPAssociation / multivip reserved-ip disassociate).",
        name, service, vip);

    public static string ReservedIpNotAssociated(string name) => F(
        "The reserved IP '{0}' is not associated with any virtual IP.", name);

    public static string ReservedIpNotAssociatedWith(string name, string service, string vip) => F(
        "The reserved IP '{0}' is not associated with virtual IP '{2}' of cloud service '{1}'.", name, service, vip);

    public static string VirtualIpHasNoAddress(string vip) => F(
        "The virtual IP '{0}' has no address to reserve yet: it gets one when an endpoint uses it. Reserve a new address instead (omit the service), then associate it.",
        vip);

    // Concurrency
    public static string Stale(string what, string expected, string current) => F(
        "{0} has changed since you read it (your ETag {1}, current {2}). Read it again, reapply your change and retry.",
        what, expected, current);

    public static string OperationNotFound(string id) => F(
        "The operation '{0}' does not exist. Operation ids are the OperationId values that changes return.", id);

    // The data dir and its database (docs/reliability.md, "Bad or missing state fails closed")
    public static string DiskFull(string dataDir) => F(
        "The disk holding {0} is full: the change was not made. Free space on that disk, then retry.", dataDir);

    public static string StateDatabaseUnreachable(string endpoint, DateTimeOffset since, string detail) => F(
        "The change was not made: the state database at {0} is unreachable since {1:yyyy-MM-dd HH:mm:ss}Z ({2}). " +
        "Traffic keeps flowing with the last state and reads answer from memory; once the database answers again this node catches up by itself. " +
        "Check that PostgreSQL is running and reachable from this node, then retry the request.",
        endpoint, since.UtcDateTime, detail);

    public static string StateDatabaseCommitInDoubt(string endpoint, string detail) => F(
        "The change may have been made: the connection to the state database at {0} broke while it was being committed ({1}) and the database has not answered since. " +
        "Look (GET) before making it again; once the database answers, this node settles the operation by itself (Succeeded when it was made).",
        endpoint, detail);

    public static string StateDatabaseUnreachableAtStart(string endpoint, string detail) => F(
        "Not starting: the state database at {0} is unreachable ({1}). Start PostgreSQL or make it reachable from this node, or fix --store.",
        endpoint, detail);

    public static string DiskFullAtStart(string dataDir, string file) => F(
        "Not starting: the disk holding {0} is full (cannot write {1}). Free space on that disk, or give --data-dir a directory on another disk.",
        dataDir, file);

    public static string DataDirReadOnly(string dataDir, string file) => F(
        "Not starting: the data dir {0} is on a read-only file system (cannot write {1}). Remount it read-write, or give --data-dir a directory on a writable disk.",
        dataDir, file);

    public static string DataDirNoPermission(string dataDir, string file) => F(
        "Not starting: no permission to write {1} in the data dir {0}. Run multivip serve as the user that owns the data dir, or give it to that user (chown, chmod 700).",
        dataDir, file);

    public static string DataDirUnusable(string dataDir, string file, string detail) => F(
        "Not starting: the data dir {0} cannot be used ({1}: {2}). Check the disk (dmesg) and the directory's owner and mode.",
        dataDir, file, detail);

    public static string DatabaseDamaged(string dataDir, string database, string detail) => F(
        "Not starting: the database {1} is damaged ({2}). Restore it from a backup, or move the data dir {0} away to start with an empty state (every cloud service and address in it is then forgotten).",
        dataDir, database, detail);

    public static string DatabaseLost(string dataDir, string database, string state, string evidence) => F(
        "Not starting: the database {1} is {2}, but the data dir {0} was used before (it holds {3}); starting empty would forget every cloud service and hand out VIP addresses that may still be in use. Restore {1} from a backup, or move the data dir {0} away to start fresh.",
        dataDir, database, state, evidence);

    /// <summary>
    /// The message of a change refused for several reasons: each one, numbered, so that one attempt
    /// shows everything to fix. A single reason is its own message, unchanged.
    /// </summary>
    public static string All(IReadOnlyList<string> messages) => messages.Count == 1
        ? messages[0]
        : F("The change has {0} problems: {1}", messages.Count,
            string.Join(" ", messages.Select((m, i) => F("({0}) {1}", i + 1, m.EndsWith('.') ? m : m + "."))));

    private static string F(string format, params object[] args) =>
        string.Format(CultureInfo.InvariantCulture, format, args);
}
