using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MultiVip.Contracts;
using MultiVip.Model.Services;

namespace MultiVip.Server.Tests.Observability;

/// <summary>--access-log through real connections: one line per closed connection with the right fields, size rotation, SIGHUP reopen.</summary>
public sealed class AccessLogTests
{
    private const string Service = "logsvc";

    [Fact]
    public async Task Each_closed_connection_is_one_line_with_client_vip_backend_times_bytes_and_how_it_ended()
    {
        await using var setup = await SetupAsync();
        var (f, vip, vm, path) = (setup.Server, setup.Vip, setup.VmAddress, setup.Path);
        const int n = 7;
        var clientPorts = new List<int>();
        for (var i = 0; i < n; i++)
        {
            clientPorts.Add(await ExchangeAsync(vip, 80, "hello"));
        }

        var lines = await LinesAsync(f, path, n);
        Assert.Equal(n, lines.Count);
        var pattern = new Regex(
            $@"^127\.0\.0\.1:(\d+) \[\d\d/[A-Z][a-z]{{2}}/\d{{4}}:\d\d:\d\d:\d\d\.\d{{3}}\] {Service}/Vip1 {Regex.Escape(vip)}:80/tcp http web/http {Regex.Escape(vm)}:8080 (\d+)/(\d+)/(\d+) 6 10 -- 0$");
        var seenPorts = new List<int>();
        foreach (var line in lines)
        {
            var match = pattern.Match(line);
            Assert.True(match.Success, $"line does not match {pattern}:\n{line}");
            seenPorts.Add(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            var (wait, connect, total) = (long.Parse(match.Groups[2].Value), long.Parse(match.Groups[3].Value), long.Parse(match.Groups[4].Value));
            Assert.True(wait + connect <= total, line);
        }

        Assert.Equal(clientPorts.Order(), seenPorts.Order());
    }

    [Fact]
    public async Task Refused_and_reset_connections_say_how_they_ended()
    {
        await using var setup = await SetupAsync();
        var (f, vip, path) = (setup.Server, setup.Vip, setup.Path);

        // The client resets in the middle of the data: CD. Only a reset: disposing a NetworkStream that
        // owns its socket shuts it down first (a FIN), and a proxy that reads that FIN before the RST
        // lands sees a half-close, which is not what this line is about.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Parse(vip), 80);
            var reader = new StreamReader(new NetworkStream(client.Client, ownsSocket: false), Encoding.ASCII);
            Assert.Equal("web", await reader.ReadLineAsync());
            client.Client.LingerState = new LingerOption(true, 0);
            client.Client.Close();
        }

        // No backend takes it (the VM is disabled): SC with <NOSRV>.
        await f.SendAsync(HttpMethod.Put, ApiRoutes.VmState(Service, "web"), new SetVmStateRequest { State = "disabled" });
        await Assert.ThrowsAnyAsync<Exception>(() => EchoBackend.HelloAsync(vip, 80));

        var lines = await LinesAsync(f, path, 2);
        Assert.True(Regex.IsMatch(lines[0], @" http web/http \S+ \d+/\d+/\d+ 0 4 CD 0$"), lines[0]);

        // A disabled VM's endpoint has left the listener: the line names no set or endpoint.
        Assert.True(Regex.IsMatch(lines[1], $@"^127\.0\.0\.1:\d+ \[[^\]]+\] {Service}/Vip1 {Regex.Escape(vip)}:80/tcp - <NOSRV> - \d+/-1/\d+ 0 0 SC 0$"), lines[1]);
    }

    [Fact]
    public async Task The_log_rotates_at_its_size_keeping_n_files_and_reopens_on_sighup()
    {
        await using var setup = await SetupAsync(o => o with { AccessLogMaxBytes = 1024, AccessLogFiles = 2 });
        var (f, vip, path) = (setup.Server, setup.Vip, setup.Path);
        var written = 0;
        for (var i = 0; i < 30; i++)
        {
            await ExchangeAsync(vip, 80, "hello");
            written++;
            await LinesAsync(f, path, written);
        }

        Assert.True(File.Exists(path + ".1") && File.Exists(path + ".2"), "rotated files missing");
        Assert.False(File.Exists(path + ".3"), "kept more than --access-log-files");
        foreach (var file in new[] { path, path + ".1", path + ".2" })
        {
            var size = new FileInfo(file).Length;
            Assert.True(size is > 0 and <= 1024, $"{file} has {size} bytes");
            Assert.All(File.ReadAllLines(file), l => Assert.EndsWith(" -- 0", l, StringComparison.Ordinal));
        }

        // logrotate: move the file away, then SIGHUP; the next line goes to a new file at the path.
        File.Move(path, path + ".moved");
        var reload = f.Server.Reload("test");
        Assert.Contains("access log", reload, StringComparison.Ordinal);
        await ExchangeAsync(vip, 80, "hello");
        Assert.Single(await LinesAsync(f, path, written + 1));
    }

    [Fact]
    public async Task An_access_log_that_cannot_be_written_refuses_to_start_with_what_to_do()
    {
        var error = await Assert.ThrowsAsync<Model.Errors.MultiVipException>(() =>
            ServerFixture.StartAsync(configure: o => o with { AccessLog = "/proc/multivip-no-such-dir/access.log" }));
        Assert.Contains("--access-log", error.Message, StringComparison.Ordinal);
    }

    private static async Task<int> ExchangeAsync(string address, int port, string line)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await client.ConnectAsync(IPAddress.Parse(address), port, timeout.Token);
        var local = ((IPEndPoint)client.Client.LocalEndPoint!).Port;
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        Assert.Equal("web", await reader.ReadLineAsync(timeout.Token));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"), timeout.Token);
        Assert.Equal(line, await reader.ReadLineAsync(timeout.Token));
        client.Client.Shutdown(SocketShutdown.Send);
        Assert.Null(await reader.ReadLineAsync(timeout.Token));
        return local;
    }

    /// <summary>Waits (bounded) until the writer has written <paramref name="count"/> lines in all; returns the current file's lines.</summary>
    private static async Task<List<string>> LinesAsync(ServerFixture f, string path, int count)
    {
        var log = f.Server.AccessLog!;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (log.Written < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the access log has {log.Written} lines, not {count} (dropped {log.Dropped})");
            await Task.Delay(20);
        }

        return [.. File.ReadAllLines(path)];
    }

    private static async Task<Setup> SetupAsync(Func<MultiVip.Server.Hosting.ServerOptions, MultiVip.Server.Hosting.ServerOptions>? configure = null)
    {
        var vm = $"127.117.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(40, 250)}";
        var backend = EchoBackend.Start(vm, 8080, "web");
        var dir = Directory.CreateTempSubdirectory("multivip-accesslog-");
        var path = Path.Combine(dir.FullName, "access.log");
        var f = await ServerFixture.StartAsync(configure: o => (configure ?? (x => x))(o with { AccessLog = path }));
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = Service });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms(Service), new AddVmRequest { Name = "web", Address = vm });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints(Service, "web"), new EndpointRequest { Name = "http", Protocol = "tcp", LocalPort = 8080, PublicPort = 80 });
        var vip = (await f.GetAsync<List<VirtualIp>>(ApiRoutes.VirtualIps(Service))).Single().Address!;
        return new Setup(f, backend, dir, vip, vm, path);
    }

    private sealed record Setup(ServerFixture Server, EchoBackend Backend, DirectoryInfo Dir, string Vip, string VmAddress, string Path) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Backend.DisposeAsync();
            Dir.Delete(recursive: true);
        }
    }
}
