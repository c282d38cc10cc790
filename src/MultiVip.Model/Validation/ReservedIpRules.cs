using MultiVip.Model.ReservedIps;

namespace MultiVip.Model.Validation;

/// <summary>A reserved IP's own fields: its name and its free-text label and location.</summary>
public static class ReservedIpRules
{
    public static void Check(ReservedIp reserved, Violations violations)
    {
        NameRules.ResourceName("reserved IP", reserved.Name, violations);
        NameRules.Text("label", reserved.Label, violations);
        NameRules.Text("location", reserved.Location, violations, 64);
    }
}
