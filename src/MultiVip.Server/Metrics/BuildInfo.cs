using System.Reflection;
using System.Runtime.InteropServices;

namespace MultiVip.Server.Metrics;

/// <summary>
/// What was built: the version and the git commit the SDK stamps into the informational version
/// ("1.0.0+&lt;commit&gt;"), and the runtime that runs it. For <c>multivip_build_info</c> and the API document.
/// </summary>
internal static class BuildInfo
{
    private static readonly string s_informational =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Version => s_informational.Split('+')[0];

    /// <summary>The commit, or "unknown" for a build outside a git checkout.</summary>
    public static string Commit => s_informational.Split('+') is [_, var commit, ..] && commit.Length > 0 ? commit : "unknown";

    public static string Runtime => RuntimeInformation.FrameworkDescription;
}
