namespace MultiVip.Cli.Output;

/// <summary>--output: text for people (PowerShell-style tables and lists), json for scripts.</summary>
internal enum OutputFormat
{
    Text,
    Json,
}
