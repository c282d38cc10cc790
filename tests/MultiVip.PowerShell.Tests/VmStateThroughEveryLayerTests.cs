using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using MultiVip.Cli.Tests.Cli;
using MultiVip.Client;
using MultiVip.Contracts;
using MultiVip.Model.Services;
using MultiVip.Server.Hosting;

namespace MultiVip.PowerShell.Tests;

/// <summary>
/// A VM's maintenance state through every layer: written by the API, the CLI, PowerShell and the
/// dashboard, stored (read back after a restart on the same data dir), and read by the API, the
/// CLI, PowerShell and the dashboard. A layer that drops the field reads Enabled and fails here,
/// named by writer and reader.
/// </summary>
public sealed class VmStateThroughEveryLayerTests
{
    private const string Service = "layers";

    private static readonly string[] Writers = ["api", "cli", "ps", "ui"];

    [Fact]
    public async Task A_vm_state_written_by_each_client_is_stored_and_read_by_each_client()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "multivip-ps-tests", Guid.NewGuid().ToString("N"));
        var options = new ServerOptions
        {
            DataDir = dataDir,
            Api = "http://127.0.0.1:0",
            Dns = "off",
            VipPools = [$"127.117.{Random.Shared.Next(1, 250)}.0/24"],
        };
        try
        {
            var server = await ServerHost.StartAsync(options);
            await using (server)
            {
                using var client = new MultiVipClient(new ClientConnection(server.Api, server.Token));
                await client.CreateServiceAsync(new CreateServiceRequest { Name = Service });
                for (var i = 0; i < Writers.Length; i++)
                {
                    await client.AddVmAsync(Service, new AddVmRequest { Name = Vm(Writers[i]), Address = $"127.117.0.{51 + i}" });
                }

                await client.SetVmStateAsync(Service, Vm("api"), new SetVmStateRequest { State = "disabled" });
                var cli = await TestCli.RunAsync(["vm", "disable", "--service", Service, "--name", Vm("cli"), .. Connection(server)]);
                Assert.True(cli.ExitCode == 0, $"vm disable exited {cli.ExitCode}: {cli.Error}");
                var ps = await Pwsh.RunAsync($"Set-AzureVMState -ServiceName {Service} -Name {Vm("ps")} -State Disabled | Out-Null", server.Api, server.Token);
                Assert.True(ps.ExitCode == 0 && Output.Errors(ps.Output).Count == 0, $"Set-AzureVMState failed:\n{ps.Output}\n{ps.Error}");
                using var browser = Dashboard(server);
                var page = await browser.GetStringAsync($"/ui/services/{Service}");
                var csrf = Regex.Match(page, "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
                using var posted = await browser.PostAsync($"/ui/services/{Service}/vms/{Vm("ui")}/state", new FormUrlEncodedContent(new Dictionary<string, string> { ["state"] = "disabled", ["csrf"] = csrf }));
                Assert.True((int)posted.StatusCode is >= 200 and < 400, $"dashboard post answered {posted.StatusCode}");
            }

            // Stored: a new server on the same data dir reads what was written.
            var restarted = await ServerHost.StartAsync(options);
            await using (restarted)
            {
                using var client = new MultiVipClient(new ClientConnection(restarted.Api, restarted.Token));
                var ps = await Pwsh.RunAsync(string.Concat(Writers.Select(w => $"'=== {w}'\n(Get-AzureVM -ServiceName {Service} -Name {Vm(w)}).State\n")) + "'=== end'\n", restarted.Api, restarted.Token);
                using var browser = Dashboard(restarted);
                var page = await browser.GetStringAsync($"/ui/services/{Service}");
                foreach (var writer in Writers)
                {
                    var api = (await client.GetVmAsync(Service, Vm(writer))).Value.State;
                    Assert.True(api == VmState.Disabled, $"written by {writer}, the API reads {api}");

                    var shown = await TestCli.RunAsync(["vm", "show", "--service", Service, "--name", Vm(writer), "-o", "json", .. Connection(restarted)]);
                    var cli = JsonDocument.Parse(shown.Out).RootElement.GetProperty("state").GetString();
                    Assert.True(cli == "disabled", $"written by {writer}, the CLI reads {cli}: {shown.Out}{shown.Error}");

                    var text = await TestCli.RunAsync(["vm", "list", "--service", Service, .. Connection(restarted)]);
                    Assert.Matches($@"(?m)^{Vm(writer)}\s+\S+\s+Disabled\b", text.Out);

                    var pwsh = ps.Section(writer).Trim();
                    Assert.True(pwsh == "Disabled", $"written by {writer}, PowerShell reads '{pwsh}'");

                    var row = Regex.Match(page, $"<tr data-vm=\"{Vm(writer)}\">.*?</tr>", RegexOptions.Singleline).Value;
                    Assert.True(row.Contains(">Disabled<", StringComparison.Ordinal) && row.Contains("data-action=\"enabled\"", StringComparison.Ordinal), $"written by {writer}, the dashboard shows: {row}");
                }
            }
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Vm(string writer) => $"vm-{writer}";

    private static string[] Connection(RunningServer server) =>
        ["--api", server.Api.ToString(), "--token", server.Token, "--data-dir", Path.Combine(server.DataDir, "cli-none")];

    /// <summary>The dashboard takes the bearer header as well as its session cookie.</summary>
    private static HttpClient Dashboard(RunningServer server)
    {
        var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.Api };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
        return http;
    }
}
