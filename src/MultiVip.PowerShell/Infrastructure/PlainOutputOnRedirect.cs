using System.Management.Automation;

namespace MultiVip.PowerShell.Infrastructure;

/// <summary>
/// Keeps escape codes out of files and pipes. pwsh's default rendering, Host, is meant to drop ANSI
/// when output is redirected, but a pwsh whose own stdout or stderr is a file or pipe
/// (<c>pwsh -File x.ps1 &gt; out.txt</c>, <c>./multivip-ps -Command ... | grep</c>) still writes colored
/// table headers and error views. So on import, when either stream is redirected and rendering is
/// still the default, it becomes PlainText. A user's explicit choice (Ansi or PlainText, or NO_COLOR,
/// which pwsh turns into PlainText itself) is left alone, and an interactive terminal keeps its colors.
/// </summary>
public sealed class PlainOutputOnRedirect : IModuleAssemblyInitializer
{
    public void OnImport()
    {
        var style = PSStyle.Instance;
        if (style.OutputRendering == OutputRendering.Host && (Console.IsOutputRedirected || Console.IsErrorRedirected))
        {
            style.OutputRendering = OutputRendering.PlainText;
        }
    }
}
