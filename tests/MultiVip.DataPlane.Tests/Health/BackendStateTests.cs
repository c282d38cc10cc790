using System.Net;
using MultiVip.DataPlane.Contract;
using MultiVip.DataPlane.Health;
using MultiVip.Model.Services;

namespace MultiVip.DataPlane.Tests.Health;

public sealed class BackendStateTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.UnixEpoch;

    private static BackendState NewState(bool probed = true) =>
        new(new BackendSpec("vm1", "web", new IPEndPoint(IPAddress.Loopback, 80)), probed);

    [Fact]
    public void New_member_is_in_rotation_until_threshold_failures()
    {
        var state = NewState();
        Assert.Equal(HealthState.Unknown, state.State);
        Assert.True(state.InRotation);

        Assert.Null(state.RecordProbe(false, "refused", At, threshold: 2));
        Assert.True(state.InRotation);
        Assert.Equal(HealthState.Unhealthy, state.RecordProbe(false, "refused", At, threshold: 2));
        Assert.False(state.InRotation);
    }

    [Fact]
    public void Unhealthy_member_returns_after_threshold_consecutive_successes()
    {
        var state = NewState();
        state.RecordProbe(false, "x", At, 3);
        state.RecordProbe(false, "x", At, 3);
        state.RecordProbe(false, "x", At, 3);
        Assert.Equal(HealthState.Unhealthy, state.State);

        Assert.Null(state.RecordProbe(true, null, At, 3));
        Assert.Null(state.RecordProbe(true, null, At, 3));
        Assert.Null(state.RecordProbe(false, "x", At, 3)); // the streak restarts
        Assert.Null(state.RecordProbe(true, null, At, 3));
        Assert.Null(state.RecordProbe(true, null, At, 3));
        Assert.Equal(HealthState.Healthy, state.RecordProbe(true, null, At, 3));
        Assert.True(state.InRotation);
    }

    [Fact]
    public void Healthy_member_tolerates_fewer_than_threshold_failures()
    {
        var state = NewState();
        Assert.Equal(HealthState.Healthy, state.RecordProbe(true, null, At, 2));
        Assert.Null(state.RecordProbe(false, "x", At, 2));
        Assert.Null(state.RecordProbe(true, null, At, 2));
        Assert.Null(state.RecordProbe(false, "x", At, 2));
        Assert.Equal(HealthState.Healthy, state.State);
    }

    [Fact]
    public void Unprobed_member_is_always_in_rotation_and_reports_its_probe_data()
    {
        var state = NewState(probed: false);
        Assert.Equal(HealthState.NotProbed, state.State);
        Assert.True(state.InRotation);

        var probed = NewState();
        probed.RecordProbe(false, "refused", At, 5);
        var health = probed.ToHealth(new ListenerKey(IPAddress.Loopback, Model.Services.TransportProtocol.Tcp, 80), "svc");
        Assert.Equal("refused", health.LastError);
        Assert.Equal(At, health.LastProbeAt);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.0 503 Service Unavailable", 503)]
    [InlineData("HTTP/1.1 204", 204)]
    public void Http_status_line_is_parsed(string line, int status) =>
        Assert.Equal(status, Probes.ParseStatus(System.Text.Encoding.ASCII.GetBytes(line)));

    [Fact]
    public void Garbage_status_line_is_a_format_error() =>
        Assert.Throws<FormatException>(() => Probes.ParseStatus("SSH-2.0-OpenSSH"u8));
}
