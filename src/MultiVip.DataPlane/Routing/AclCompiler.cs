using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Routing;

/// <summary>
/// Turns a listener's ACL rules (data in the desired state) into the evaluator the per-connection
/// and per-session check runs. Here rather than on the contract: compiling is the data plane's
/// business, and a kernel data plane would compile the same rules into its own tables.
/// </summary>
internal static class AclCompiler
{
    public static AclEvaluator Compile(IReadOnlyList<AclRule> rules) => rules.Count == 0 ? AclEvaluator.AllowAll : new AclEvaluator(rules);
}
