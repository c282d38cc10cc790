using System.Collections;
using MultiVip.Contracts;

namespace MultiVip.PowerShell.Objects;

/// <summary>One ACL rule; RuleId is the handle Set-AzureAclConfig -SetRule/-RemoveRule use.</summary>
public sealed class NetworkAclRule
{
    public int RuleId { get; set; }

    public int Order { get; set; }

    /// <summary>Permit or Deny.</summary>
    public string Action { get; set; } = "Permit";

    public string RemoteSubnet { get; set; } = string.Empty;

    public string? Description { get; set; }
}

/// <summary>
/// New-AzureAclConfig's object, edited in memory by Set-AzureAclConfig and attached with -ACL.
/// Enumerable, like Azure's, so that printing it lists its rules while a variable still holds the one object.
/// </summary>
public sealed class NetworkAclObject : IEnumerable<NetworkAclRule>
{
    private readonly List<NetworkAclRule> _rules = [];

    public int Count => _rules.Count;

    public IEnumerator<NetworkAclRule> GetEnumerator() => _rules.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    internal NetworkAclRule? Find(int ruleId) => _rules.Find(r => r.RuleId == ruleId);

    internal void Add(NetworkAclRule rule)
    {
        // Ids only grow, so a removed rule's id is never handed out again within one object.
        rule.RuleId = _rules.Count == 0 ? 0 : _rules.Max(r => r.RuleId) + 1;
        _rules.Add(rule);
    }

    internal bool Remove(int ruleId) => _rules.RemoveAll(r => r.RuleId == ruleId) > 0;

    internal List<AclRuleRequest> ToRequests() => _rules.Select(r => new AclRuleRequest
    {
        Order = r.Order,
        Action = r.Action.ToLowerInvariant(),
        RemoteSubnet = r.RemoteSubnet,
        Description = r.Description,
    }).ToList();

    internal static NetworkAclObject From(IEnumerable<AclRuleRequest>? rules)
    {
        var acl = new NetworkAclObject();
        foreach (var r in rules ?? [])
        {
            acl.Add(new NetworkAclRule
            {
                Order = r.Order ?? 0,
                Action = string.Equals(r.Action, "deny", StringComparison.OrdinalIgnoreCase) ? "Deny" : "Permit",
                RemoteSubnet = r.RemoteSubnet ?? string.Empty,
                Description = r.Description,
            });
        }

        return acl;
    }
}
