using System.Globalization;
using Npgsql;

namespace MultiVip.Control.State;

/// <summary>
/// Where the PostgreSQL state database is, from what an operator gives <c>--store</c>: a
/// <c>postgresql://user:password@host:port/database</c> URL (libpq's form; <c>postgres://</c> too)
/// or an Npgsql connection string ("Host=...;Username=...;..."). The password is kept only in the
/// connection string given to Npgsql: <see cref="ToString"/>, <see cref="Endpoint"/> and every
/// message name the database without it.
/// </summary>
public sealed class PostgresLocation
{
    private PostgresLocation(NpgsqlConnectionStringBuilder builder) => Builder = builder;

    internal NpgsqlConnectionStringBuilder Builder { get; }

    /// <summary>host:port (or the socket directory and port) for messages.</summary>
    public string Endpoint => $"{Builder.Host}:{Builder.Port}";

    public string Database => Builder.Database ?? Builder.Username ?? "postgres";

    /// <summary>True when <paramref name="value"/> names a PostgreSQL database rather than a data dir.</summary>
    public static bool IsPostgres(string value) =>
        value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || (value.Contains('=', StringComparison.Ordinal) && value.Contains("host", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads a URL or connection string; a malformed one is a <see cref="FormatException"/> saying what is wrong (without the password).</summary>
    public static PostgresLocation Parse(string value)
    {
        var builder = value.Contains("://", StringComparison.Ordinal) ? FromUrl(value) : FromConnectionString(value);
        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new FormatException("The PostgreSQL store names no host: give postgresql://user:password@host:port/database or a connection string with Host=.");
        }

        // The server's own detail ("Key (address)=(...) already exists") words conflicts; it never
        // contains the password.
        builder.IncludeErrorDetail = true;
        return new PostgresLocation(builder);
    }

    private static NpgsqlConnectionStringBuilder FromConnectionString(string value)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException ex)
        {
            // Npgsql's message names the keyword, never the values.
            throw new FormatException($"The PostgreSQL connection string is not valid: {ex.Message}. Use Npgsql's keywords (Host=...;Port=...;Username=...;Password=...;Database=...) or a postgresql:// URL.", ex);
        }
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgresql" or "postgres"))
        {
            throw new FormatException($"The PostgreSQL store URL '{RedactUrl(value)}' is not valid: use postgresql://user:password@host:port/database.");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
        };
        if (uri.UserInfo is { Length: > 0 } userInfo)
        {
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var text = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (key)
            {
                case "sslmode":
                    builder.SslMode = Enum.TryParse<SslMode>(text.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode)
                        ? mode
                        : throw new FormatException($"The PostgreSQL store URL's sslmode '{text}' is not one of disable, allow, prefer, require, verify-ca, verify-full.");
                    break;
                case "connect_timeout":
                    builder.Timeout = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                        ? seconds
                        : throw new FormatException($"The PostgreSQL store URL's connect_timeout '{text}' is not a number of seconds.");
                    break;
                case "application_name":
                    builder.ApplicationName = text;
                    break;
                case "host":
                    // libpq's way to name a Unix socket directory: postgresql://user@/db?host=/run/postgresql
                    builder.Host = text;
                    break;
                default:
                    throw new FormatException($"The PostgreSQL store URL has the parameter '{key}', which MultiVip does not know (it reads sslmode, connect_timeout, application_name, host). Use an Npgsql connection string for other settings.");
            }
        }

        return builder;
    }

    /// <summary>The URL or connection string with its password replaced by ***, for --print-config and logs.</summary>
    public static string Redact(string value)
    {
        if (value.Contains("://", StringComparison.Ordinal))
        {
            return RedactUrl(value);
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(value);
            if (builder.Password is not null)
            {
                builder.Password = "***";
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(a PostgreSQL connection string that cannot be read)";
        }
    }

    private static string RedactUrl(string value)
    {
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        var at = value.LastIndexOf('@');
        if (scheme < 0 || at < scheme)
        {
            return value;
        }

        var userInfo = value[(scheme + 3)..at];
        var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? value : value[..(scheme + 3)] + userInfo[..colon] + ":***" + value[at..];
    }

    /// <summary>The database without its password: postgresql://user@host:port/database.</summary>
    public override string ToString() => $"postgresql://{Builder.Username}@{Endpoint}/{Database}";
}
