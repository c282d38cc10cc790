using System.Data.Common;
using System.Text.Json;

namespace MultiVip.Control.Nodes;

/// <summary>
/// The one mapping between a node record and a row of the <c>nodes</c> table, for both registries
/// (SQLite and PostgreSQL keep the same columns; times are UTC ticks, faults JSON).
/// </summary>
internal static class NodeRows
{
    /// <summary>The columns <see cref="Read"/> expects, in its order.</summary>
    public const string Columns = "name, api_address, started_at, heartbeat_at, applied_generation, faults, version, stopped_at, announce_address, holds, vip_pool";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string FaultsJson(NodeRecord node) => JsonSerializer.Serialize(node.Faults, Json);

    /// <summary>Null (the column's value for a node without a shared announcer) when it holds nothing.</summary>
    public static string? HoldsJson(NodeRecord node) => node.Holds.Count == 0 ? null : JsonSerializer.Serialize(node.Holds, Json);

    public static NodeRecord Read(DbDataReader reader) => new()
    {
        Name = reader.GetString(0),
        ApiAddress = reader.GetString(1),
        StartedAt = new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero),
        LastHeartbeat = new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero),
        AppliedGeneration = reader.GetInt64(4),
        Faults = ReadFaults(reader.GetString(5)),
        Version = reader.GetString(6),
        StoppedAt = reader.IsDBNull(7) ? null : new DateTimeOffset(reader.GetInt64(7), TimeSpan.Zero),
        AnnounceAddress = reader.IsDBNull(8) ? null : reader.GetString(8),
        Holds = reader.IsDBNull(9) ? [] : ReadHolds(reader.GetString(9)),
        VipPool = reader.IsDBNull(10) ? null : reader.GetString(10),
    };

    /// <summary>Holds another version wrote in a shape this one cannot read: the node is still listed, holding nothing known.</summary>
    private static List<NodeHold> ReadHolds(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<NodeHold>>(json, Json) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>A record another version wrote with faults this one cannot read still lists the node; only its faults are lost.</summary>
    private static List<NodeFault> ReadFaults(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<NodeFault>>(json, Json) ?? [];
        }
        catch (JsonException)
        {
            return [new NodeFault("", "", "this node's faults could not be read: " + json[..Math.Min(json.Length, 200)])];
        }
    }
}
