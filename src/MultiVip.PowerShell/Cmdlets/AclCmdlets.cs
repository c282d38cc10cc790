using System.Management.Automation;
using MultiVip.Model.Errors;
using MultiVip.Model.Validation;
using MultiVip.PowerShell.Completion;
using MultiVip.PowerShell.Infrastructure;
using MultiVip.PowerShell.Objects;

namespace MultiVip.PowerShell.Cmdlets;

[Cmdlet(VerbsCommon.New, "AzureAclConfig"), OutputType(typeof(NetworkAclObject))]
public sealed class NewAzureAclConfigCmdlet : PSCmdlet
{
    // Not enumerated: the caller keeps the (empty) object to fill with Set-AzureAclConfig.
    protected override void ProcessRecord() => WriteObject(new NetworkAclObject(), enumerateCollection: false);
}

/// <summary>Adds, changes or removes a rule of an ACL object in memory.</summary>
[Cmdlet(VerbsCommon.Set, "AzureAclConfig", DefaultParameterSetName = AddRuleSet)]
public sealed class SetAzureAclConfigCmdlet : MultiVipCmdlet
{
    private const string AddRuleSet = "AddRule";
    private const string RemoveRuleSet = "RemoveRule";
    private const string SetRuleSet = "SetRule";

    [Parameter(ParameterSetName = AddRuleSet, Mandatory = true)]
    public SwitchParameter AddRule { get; set; }

    [Parameter(ParameterSetName = RemoveRuleSet, Mandatory = true)]
    public SwitchParameter RemoveRule { get; set; }

    [Parameter(ParameterSetName = SetRuleSet, Mandatory = true)]
    public SwitchParameter SetRule { get; set; }

    [Parameter(ParameterSetName = RemoveRuleSet, Mandatory = true)]
    [Parameter(ParameterSetName = SetRuleSet, Mandatory = true)]
    public int RuleId { get; set; }

    [Parameter(ParameterSetName = AddRuleSet, Mandatory = true)]
    [Parameter(ParameterSetName = SetRuleSet)]
    [ValidateSet("Permit", "Deny", IgnoreCase = true)]
    public string? Action { get; set; }

    [Parameter(ParameterSetName = AddRuleSet, Mandatory = true)]
    [Parameter(ParameterSetName = SetRuleSet)]
    public string? RemoteSubnet { get; set; }

    [Parameter(ParameterSetName = AddRuleSet)]
    [Parameter(ParameterSetName = SetRuleSet)]
    public int? Order { get; set; }

    [Parameter(ParameterSetName = AddRuleSet)]
    [Parameter(ParameterSetName = SetRuleSet)]
    public string? Description { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public NetworkAclObject? ACL { get; set; }

    protected override void ProcessRecord()
    {
        var acl = ACL!;
        if (RemoteSubnet is not null)
        {
            try
            {
                EndpointRules.RemoteSubnet(RemoteSubnet);
            }
            catch (MultiVipException e)
            {
                throw InvalidArgument(e.Message, RemoteSubnet);
            }
        }

        switch (ParameterSetName)
        {
            case AddRuleSet:
                acl.Add(new NetworkAclRule
                {
                    Order = Order ?? (acl.Count == 0 ? 0 : acl.Max(r => r.Order) + 1),
                    Action = Normalize(Action!),
                    RemoteSubnet = RemoteSubnet!,
                    Description = Description,
                });
                break;
            case RemoveRuleSet:
                if (!acl.Remove(RuleId))
                {
                    throw InvalidArgument($"The ACL has no rule with RuleId {RuleId}.", RuleId);
                }

                break;
            default:
                var rule = acl.Find(RuleId) ?? throw InvalidArgument($"The ACL has no rule with RuleId {RuleId}.", RuleId);
                rule.Action = Action is null ? rule.Action : Normalize(Action);
                rule.RemoteSubnet = RemoteSubnet ?? rule.RemoteSubnet;
                rule.Order = Order ?? rule.Order;
                rule.Description = Description ?? rule.Description;
                break;
        }
    }

    private static string Normalize(string action) =>
        string.Equals(action, "deny", StringComparison.OrdinalIgnoreCase) ? "Deny" : "Permit";
}

[Cmdlet(VerbsCommon.Get, "AzureAclConfig", DefaultParameterSetName = AclSet)]
public sealed class GetAzureAclConfigCmdlet : MultiVipCmdlet
{
    private const string AclSet = "ACL";
    private const string EndpointSet = "Endpoint";

    [Parameter(ParameterSetName = AclSet, Mandatory = true, ValueFromPipeline = true)]
    public NetworkAclObject? ACL { get; set; }

    [Parameter(ParameterSetName = AclSet)]
    public int? RuleId { get; set; }

    [Parameter(ParameterSetName = EndpointSet, Mandatory = true)]
    [ArgumentCompleter(typeof(EndpointNameCompleter))]
    public string? EndpointName { get; set; }

    [Parameter(ParameterSetName = EndpointSet, Mandatory = true, ValueFromPipeline = true)]
    public IPersistentVM? VM { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == EndpointSet)
        {
            var endpoint = VM!.GetInstance().FindEndpoint(EndpointName!) ?? throw InvalidArgument(Messages.EndpointNotFound(EndpointName!), EndpointName);
            WriteObject(NetworkAclObject.From(endpoint.Acl), enumerateCollection: false);
            return;
        }

        if (RuleId is { } id)
        {
            WriteObject(ACL!.Find(id) ?? throw InvalidArgument($"The ACL has no rule with RuleId {id}.", id));
            return;
        }

        WriteObject(ACL, enumerateCollection: false);
    }
}

/// <summary>Removes the whole ACL from an endpoint of the VM object (everyone allowed again after Update-AzureVM).</summary>
[Cmdlet(VerbsCommon.Remove, "AzureAclConfig"), OutputType(typeof(IPersistentVM))]
public sealed class RemoveAzureAclConfigCmdlet : VmConfigurationCmdlet
{
    [Parameter(Mandatory = true)]
    [ArgumentCompleter(typeof(EndpointNameCompleter))]
    public string EndpointName { get; set; } = string.Empty;

    protected override void ProcessRecord()
    {
        var vm = Instance;
        var endpoint = vm.FindEndpoint(EndpointName) ?? throw InvalidArgument(Messages.EndpointNotFound(EndpointName), EndpointName);
        vm.Endpoints[vm.Endpoints.IndexOf(endpoint)] = endpoint with { Acl = [] };
        WriteObject(VM);
    }
}
