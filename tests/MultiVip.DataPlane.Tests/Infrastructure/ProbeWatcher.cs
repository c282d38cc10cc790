using System.Collections.Concurrent;
using System.Threading.Channels;
using MultiVip.DataPlane.Health;
using MultiVip.DataPlane.Tcp;

namespace MultiVip.DataPlane.Tests.Infrastructure;

/// <summary>Turns the data plane's probe hook into per-backend queues a test can await.</summary>
internal sealed class ProbeWatcher
{
    private readonly ConcurrentDictionary<string, Channel<ProbeObservation>> _byVm = new();

    public ProbeWatcher(TcpDataPlane plane) => plane.ProbeCompleted += o => Queue(o.Backend.VmName).Writer.TryWrite(o);

    public ProbeWatcher(DataPlaneHost plane) => plane.ProbeCompleted += o => Queue(o.Backend.VmName).Writer.TryWrite(o);

    public async Task<ProbeObservation> NextAsync(string vmName) =>
        await Queue(vmName).Reader.ReadAsync().AsTask().WaitAsync(TestNet.Timeout);

    private Channel<ProbeObservation> Queue(string vmName) => _byVm.GetOrAdd(vmName, _ => Channel.CreateUnbounded<ProbeObservation>());
}
