using System.Globalization;
using Microsoft.Extensions.Hosting.Systemd;

namespace MultiVip.Server.Hosting;

/// <summary>
/// The sd_notify protocol for a <c>Type=notify</c> systemd unit (packaging/systemd/multivip.service):
/// READY=1 once the API answers, STOPPING=1 the moment SIGTERM starts the drain. The datagrams go
/// to <c>NOTIFY_SOCKET</c>, through Microsoft.Extensions.Hosting.Systemd's <see cref="SystemdNotifier"/>.
/// </summary>
/// <remarks>
/// Not <c>UseSystemd()</c>: it switches itself on only when the parent process is systemd and
/// announces READY as soon as Kestrel starts, before the endpoint file exists. Keyed on
/// <c>NOTIFY_SOCKET</c> instead, as libsystemd's sd_notify is, the same code runs under systemd
/// and in the test that plays the service manager; without the variable nothing is sent.
/// </remarks>
internal static class ServiceManagerNotifications
{
    /// <summary>How long past the drain timeout systemd should wait for the stop before it kills.</summary>
    private static readonly TimeSpan StopMargin = TimeSpan.FromSeconds(15);

    /// <summary>Call once the API listens and the endpoint file is written; arms STOPPING for shutdown.</summary>
    /// <param name="tookOverFrom">
    /// The PID of the server this one took over from, or null. Then this process tells systemd it is
    /// the service's main process now (MAINPID=, accepted with NotifyAccess=all), before the old one
    /// is told to exit, so the unit never sees its main process go.
    /// </param>
    /// <param name="handedOver">True once this server handed over to a successor: its stop is not the service's, so no STOPPING=1.</param>
    public static void ServerReady(IHostApplicationLifetime lifetime, Uri api, TimeSpan drainTimeout, int? tookOverFrom = null, Func<bool>? handedOver = null)
    {
        var notifier = new SystemdNotifier();
        if (!notifier.IsEnabled)
        {
            return;
        }

        var status = $"STATUS=Serving the API on {api.ToString().TrimEnd('/')}";
        notifier.Notify(new ServiceState(tookOverFrom is { } previous
            ? string.Create(CultureInfo.InvariantCulture, $"MAINPID={Environment.ProcessId}\nREADY=1\n{status} (took over from PID {previous})")
            : $"READY=1\n{status}"));
        lifetime.ApplicationStopping.Register(() =>
        {
            if (handedOver?.Invoke() == true)
            {
                return;
            }

            // EXTEND_TIMEOUT_USEC lets a drain longer than the unit's TimeoutStopSec finish: systemd
            // waits this long from now before it escalates to SIGKILL.
            var extend = (long)(drainTimeout + StopMargin).TotalMicroseconds;
            notifier.Notify(new ServiceState(string.Create(
                CultureInfo.InvariantCulture,
                $"STOPPING=1\nSTATUS=Draining connections (up to {drainTimeout.TotalSeconds:0} s)\nEXTEND_TIMEOUT_USEC={extend}")));
        });
    }
}
