using Microsoft.Playwright;

namespace MultiVip.Server.Tests.Dashboard;

/// <summary>
/// One headless Debian Chromium (/usr/bin/chromium, installed by test.sh through MULTIVIP_TEST_APT)
/// per test class, driven by Playwright. Playwright's own browser builds are never downloaded:
/// ExecutablePath points at the system browser. MULTIVIP_CHROMIUM overrides the path.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("MULTIVIP_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>
    /// Every wait in these tests is for an event (a navigation, a selector); the bound only decides how
    /// long a real failure takes to report. Playwright's 30 s ran out on a CI machine at load 60.
    /// </summary>
    public static readonly float WaitBoundMs = 120_000;

    /// <summary>A browser context whose waits use <see cref="WaitBoundMs"/>.</summary>
    public async Task<IBrowserContext> NewContextAsync(BrowserNewContextOptions? options = null)
    {
        var context = await Browser.NewContextAsync(options);
        context.SetDefaultTimeout(WaitBoundMs);
        context.SetDefaultNavigationTimeout(WaitBoundMs);
        return context;
    }

    public async Task InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout(WaitBoundMs);
        Assert.True(File.Exists(ExecutablePath), $"Chromium not found at {ExecutablePath}: run ./test.sh as root (it apt-installs chromium) or `apt-get install chromium`.");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>artifacts/test-results in the repository (what test.sh keeps), else the test output dir.</summary>
    public static string ArtifactPath(string fileName)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MultiVip.slnx")))
        {
            dir = dir.Parent;
        }

        var folder = dir is null ? AppContext.BaseDirectory : Path.Combine(dir.FullName, "artifacts", "test-results");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, fileName);
    }
}
