using System.Text.Json.Nodes;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// The one place where stored documents move from one format to the next. Step N takes a document
/// of format N to N+1 in place, as JSON, before it is deserialized; a document of format 1 runs every
/// step in order. To change what is stored in a way tolerant reading cannot absorb — rename a
/// property, add a required one, change what a value means — append a step (never edit a shipped
/// one) and give it a test with a document of the old format. A document is rewritten in the
/// current format the next time its aggregate changes; old formats stay readable for good.
/// </summary>
internal static class StoredDocumentUpgrades
{
    private static readonly Action<Type, JsonObject>[] Steps =
    [
        // 1 → 2: format 1 (the API's JSON settings) also stored values computed from the state.
        DropDerivedValues,
    ];

    public static int CurrentFormat => Steps.Length + 1;

    public static void Upgrade(Type aggregate, JsonObject document, int fromFormat)
    {
        for (var format = fromFormat; format < CurrentFormat; format++)
        {
            Steps[format - 1](aggregate, document);
        }
    }

    /// <summary>
    /// A deployment's copy of its default VIP, a probe's threshold, a reservation's state and in-use
    /// flag: computed on every read since format 2, so a stored copy could only disagree.
    /// </summary>
    private static void DropDerivedValues(Type aggregate, JsonObject document)
    {
        if (aggregate == typeof(CloudService) && document["deployment"] is JsonObject deployment)
        {
            deployment.Remove("defaultVirtualIp");
            foreach (var vm in (deployment["virtualMachines"] as JsonArray ?? []).OfType<JsonObject>())
            {
                foreach (var endpoint in (vm["endpoints"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    (endpoint["probe"] as JsonObject)?.Remove("threshold");
                }
            }
        }
        else if (aggregate == typeof(ReservedIp))
        {
            document.Remove("state");
            document.Remove("inUse");
        }
    }
}
