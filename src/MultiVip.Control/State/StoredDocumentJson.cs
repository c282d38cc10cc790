using System.Buffers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MultiVip.Model.Operations;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.State;

/// <summary>
/// How aggregates are stored, kept apart from the API's JSON on purpose: the API refuses what it does
/// not know (a client's typo must not be ignored), while a database outlives the build that wrote it
/// and must load after a property is added, removed or renamed. So stored documents are read
/// tolerantly — unknown members are skipped, missing ones keep their defaults, property names and
/// enum values match whatever their case — and each carries <c>formatVersion</c>, so a change that
/// tolerance cannot absorb (a rename, a new required member, a changed meaning) is an upgrade step
/// in <see cref="StoredDocumentUpgrades"/>, run on the document before it is read.
/// </summary>
internal static class StoredDocumentJson
{
    public const string FormatProperty = "formatVersion";

    /// <summary>Documents without <see cref="FormatProperty"/> were written before it existed: format 1.</summary>
    public const int FirstFormat = 1;

    public static int CurrentFormat => StoredDocumentUpgrades.CurrentFormat;

    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        // Web defaults: camelCase names (what format 1 was written with), case-insensitive property
        // matching, numbers read from strings too.
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { StoreOnlyState } },
        };
        options.Converters.Add(new TolerantEnumConverterFactory());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>The document of <paramref name="value"/>, with the current format version first.</summary>
    public static string Write<T>(T value)
    {
        using var document = JsonSerializer.SerializeToDocument(value, Options);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber(FormatProperty, CurrentFormat);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Reads a document of any format this build knows, upgrading it first. Throws
    /// <see cref="InvalidDataException"/> with a sentence naming the document when it cannot.
    /// </summary>
    public static T Read<T>(string json)
        where T : class
    {
        JsonObject document;
        try
        {
            document = JsonNode.Parse(json) as JsonObject
                ?? throw new InvalidDataException($"A stored {Describe<T>(null)} document is not a JSON object. The database is damaged: restore the data dir from a backup.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"A stored {Describe<T>(null)} document is not valid JSON ({ex.Message}). The database is damaged: restore the data dir from a backup.", ex);
        }

        var what = Describe<T>(document);
        var format = FormatOf(document, what);
        if (format > CurrentFormat)
        {
            throw new InvalidDataException(
                $"The stored {what} has format version {format}, newer than this build reads ({CurrentFormat}): the data dir was last used by a newer MultiVip. Run that version or a later one.");
        }

        document.Remove(FormatProperty);
        StoredDocumentUpgrades.Upgrade(typeof(T), document, format);
        try
        {
            return document.Deserialize<T>(Options)
                ?? throw new InvalidDataException($"The stored {what} is empty. The database is damaged: restore the data dir from a backup.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The stored {what} cannot be read: {ex.Message} The database is damaged, or was written by a build this one cannot upgrade from.", ex);
        }
    }

    private static int FormatOf(JsonObject document, string what)
    {
        if (!document.TryGetPropertyValue(FormatProperty, out var node) || node is null)
        {
            return FirstFormat;
        }

        if (node is JsonValue value && value.TryGetValue<int>(out var format) && format >= FirstFormat)
        {
            return format;
        }

        throw new InvalidDataException($"The stored {what} has '{FormatProperty}': {node.ToJsonString()}, which is not a format version. The database is damaged: restore the data dir from a backup.");
    }

    /// <summary>"cloud service 'web'" — which document, in the words an operator knows.</summary>
    private static string Describe<T>(JsonObject? document)
    {
        var (kind, key) = typeof(T) == typeof(CloudService) ? ("cloud service", "name")
            : typeof(T) == typeof(ReservedIp) ? ("reserved IP", "name")
            : typeof(T) == typeof(Operation) ? ("operation", "operationId")
            : (typeof(T).Name, "name");
        return document?[key] is JsonValue name && name.TryGetValue<string>(out var text) ? $"{kind} '{text}'" : kind;
    }

    /// <summary>
    /// Stores state, never what is computed from it (a deployment's default VIP, a probe's threshold,
    /// a reservation's "in use"): a stored derived value would freeze the rule of the build that wrote it.
    /// </summary>
    private static void StoreOnlyState(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        for (var i = type.Properties.Count - 1; i >= 0; i--)
        {
            if (type.Properties[i].Set is null)
            {
                type.Properties.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Enums as strings, written as the API spells them (camelCase, or the member's
    /// <see cref="JsonStringEnumMemberNameAttribute"/>), read whatever their case or spelling of the two.
    /// </summary>
    private sealed class TolerantEnumConverterFactory : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(TolerantEnumConverter<>).MakeGenericType(typeToConvert))!;
    }

    private sealed class TolerantEnumConverter<T> : JsonConverter<T>
        where T : struct, Enum
    {
        private readonly Dictionary<string, T> _read = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<T, string> _write = [];

        public TolerantEnumConverter()
        {
            foreach (var field in typeof(T).GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                var value = (T)field.GetValue(null)!;
                var name = field.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(field.Name);
                _write.TryAdd(value, name);
                _read.TryAdd(name, value);
                _read.TryAdd(field.Name, value);
            }
        }

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.String && _read.TryGetValue(reader.GetString()!, out var value))
            {
                return value;
            }

            var got = reader.TokenType == JsonTokenType.String ? $"'{reader.GetString()}'" : reader.TokenType.ToString();
            throw new JsonException($"{got} is not a {typeof(T).Name} (known: {string.Join(", ", _write.Values)}).");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteStringValue(_write.TryGetValue(value, out var name)
                ? name
                : throw new JsonException($"{value} is not a defined {typeof(T).Name}; it cannot be stored."));
    }
}
