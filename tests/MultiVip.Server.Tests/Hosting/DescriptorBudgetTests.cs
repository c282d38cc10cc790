using CsCheck;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests.Hosting;

/// <summary>The descriptor budget's arithmetic: every cap sized from the limit, lowered caps named once.</summary>
public sealed class DescriptorBudgetTests
{
    [Fact]
    public void A_typical_hard_limit_keeps_every_default_cap_without_a_warning()
    {
        var plan = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 1_048_576, InUse = 97, DnsTcpConnections = 64 });

        Assert.Empty(plan.Lowered);
        Assert.Null(plan.Warning);
        Assert.Equal(ServerOptions.DefaultMaxApiConnections, plan.ApiConnections);
        Assert.Equal(10_000, plan.ConnectionsPerListener);
        Assert.Equal(10_000, plan.UdpSessionsPerListener);

        // Both totals unset: they share the data plane's descriptors in proportion to the per-listener
        // caps (a connection costs two, a session one), and nothing of the limit is left unused or overdrawn.
        // (The figures of docs/reliability.md.)
        Assert.Equal(1_039_507, plan.DataPlaneDescriptors);
        Assert.Equal((346_502, 346_502), (plan.Connections, plan.UdpSessions));
        Assert.InRange(plan.Limit - (plan.ControlPlaneReserve + (2L * plan.Connections) + plan.UdpSessions), 0, 3);
        Assert.Equal(68, plan.DnsReserve);
        Assert.Equal(8192, plan.ListenerReserve);
    }

    [Fact]
    public void Pipes_of_spliced_directions_come_out_of_the_data_plane_share_first_and_only_where_one_fits()
    {
        var plain = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 1_048_576, InUse = 97, DnsTcpConnections = 64 });
        var spliced = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 1_048_576, InUse = 97, DnsTcpConnections = 64, Splice = true, IdlePipes = 8 });

        // The default 4,096 directions (2 descriptors each) and 8 idle pipes, taken before the TCP/UDP split,
        // silently (nobody asked for a number); the figures of docs/reliability.md.
        Assert.Equal(4_096, spliced.SplicedDirections);
        Assert.Equal((2 * 4_096) + 16, spliced.PipeReserve);
        Assert.Equal(plain.DataPlaneDescriptors - spliced.PipeReserve, spliced.DataPlaneDescriptors);
        Assert.Equal((343_766, 343_766), (spliced.Connections, spliced.UdpSessions));
        Assert.Empty(spliced.Lowered);
        Assert.InRange(spliced.Limit - (spliced.ControlPlaneReserve + spliced.PipeReserve + (2L * spliced.Connections) + spliced.UdpSessions), 0, 3);
        Assert.Contains("4096 spliced directions", spliced.Summary, StringComparison.Ordinal);
        Assert.Equal((0, 0L), (plain.SplicedDirections, plain.PipeReserve));

        // At 400 not one pipe fits in an eighth of the 60 data-plane descriptors: splicing is off and the caps stay as they were.
        var small = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 400, InUse = 97, MaxConnections = 5_000, Splice = true, IdlePipes = 8 });
        Assert.Equal((0, 0L, 60L), (small.SplicedDirections, small.PipeReserve, small.DataPlaneDescriptors));
        Assert.Equal((15, 30), (small.Connections, small.UdpSessions));

        // A number asked for and not held is named in the warning, like any lowered cap.
        var asked = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 20_000, InUse = 97, Splice = true, IdlePipes = 8, MaxSplicedDirections = 4_096 });
        var lowered = Assert.Single(asked.Lowered, c => c.Name == "spliced directions");
        Assert.Equal((4_096L, 1_181L), (lowered.Requested, lowered.Granted));
        Assert.Equal(1_181, asked.SplicedDirections);
    }

    [Fact]
    public void A_limit_of_400_serves_with_every_cap_lowered_and_said_so_once()
    {
        var plan = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 400, InUse = 97, MaxConnections = 5_000 });

        // 400 - 97 open - 176 runtime - 16 database - 32 listening sockets = 79 left; the API gets a
        // quarter of it less its slack of 8 (11 connections), the data plane the remaining 60, shared
        // in proportion to what was asked: 5,000 connections (2 descriptors each) to 10,000 sessions.
        Assert.Equal(60, plan.DataPlaneDescriptors);
        Assert.Equal(11, plan.ApiConnections);
        Assert.Equal((15, 30), (plan.Connections, plan.UdpSessions));
        Assert.Equal(plan.Connections, plan.ConnectionsPerListener);
        Assert.Equal(plan.UdpSessions, plan.UdpSessionsPerListener);
        Assert.Equal(
            ["API connections", "TCP connections in total", "TCP connections per listener", "UDP sessions per listener"],
            plan.Lowered.Select(c => c.Name));

        var warning = plan.Warning!;
        Assert.Contains("open-file limit of 400", warning, StringComparison.Ordinal);
        Assert.Contains($"API connections 512 -> {plan.ApiConnections}", warning, StringComparison.Ordinal);
        Assert.Contains($"TCP connections in total 5000 -> {plan.Connections}", warning, StringComparison.Ordinal);
        Assert.Contains($"UDP sessions per listener 10000 -> {plan.UdpSessionsPerListener}", warning, StringComparison.Ordinal);
        Assert.Contains($"LimitNOFILE={plan.RequiredLimit}", warning, StringComparison.Ordinal);
        Assert.Contains($"ulimit -n {plan.RequiredLimit}", warning, StringComparison.Ordinal);

        // The limit the warning asks for does hold every cap as configured (the per-listener cap of
        // 10,000 above the total of 5,000 is the operator's own choice, not the limit's: no warning).
        var atRequired = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = plan.RequiredLimit, InUse = 97, MaxConnections = 5_000 });
        Assert.Empty(atRequired.Lowered);
        Assert.Equal((5_000, 5_000), (atRequired.Connections, atRequired.ConnectionsPerListener));
        Assert.Equal(10_000, atRequired.UdpSessionsPerListener);
    }

    [Fact]
    public void A_limit_too_low_to_serve_refuses_to_start_and_says_what_to_set()
    {
        // 97 open + 176 runtime + 16 database + 32 listening sockets = 321 held before anything is served.
        var ex = Assert.Throws<InvalidOperationException>(() => DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 300, InUse = 97 }));
        Assert.Contains("open-file limit of 300", ex.Message, StringComparison.Ordinal);
        Assert.Contains("at least 353", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ulimit -n", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configured_totals_that_fit_are_kept_and_an_unset_one_takes_what_is_left()
    {
        var tcpSet = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 100_000, InUse = 200, MaxConnections = 20_000 });
        Assert.Equal(20_000, tcpSet.Connections);
        Assert.Equal(tcpSet.DataPlaneDescriptors - 40_000, tcpSet.UdpSessions);
        Assert.Empty(tcpSet.Lowered);

        var udpSet = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 100_000, InUse = 200, MaxUdpSessions = 30_000 });
        Assert.Equal(30_000, udpSet.UdpSessions);
        Assert.Equal((udpSet.DataPlaneDescriptors - 30_000) / 2, udpSet.Connections);

        var bothSet = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 100_000, InUse = 200, MaxConnections = 1_000, MaxUdpSessions = 2_000, MaxApiConnections = 64 });
        Assert.Equal((1_000, 2_000, 64), (bothSet.Connections, bothSet.UdpSessions, bothSet.ApiConnections));
        Assert.Equal((1_000, 2_000), (bothSet.ConnectionsPerListener, bothSet.UdpSessionsPerListener));
    }

    [Fact]
    public void Totals_that_do_not_fit_shrink_in_proportion_to_what_was_asked()
    {
        var plan = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = 65_536, InUse = 200, MaxConnections = 100_000, MaxUdpSessions = 100_000 });
        Assert.True((2L * plan.Connections) + plan.UdpSessions <= plan.DataPlaneDescriptors);
        Assert.Equal(plan.Connections, plan.UdpSessions, tolerance: 1);
        Assert.Contains(plan.Lowered, c => c.Name == "TCP connections in total" && c.Requested == 100_000 && c.Granted == plan.Connections);
        Assert.Contains(plan.Lowered, c => c.Name == "UDP sessions in total" && c.Requested == 100_000 && c.Granted == plan.UdpSessions);
    }

    [Fact]
    public void A_lopsided_shrink_lifts_the_tiny_share_to_one_without_overdrawing()
    {
        // The case CsCheck found (seed 4xmir3UMmgI4): 14 connections beside 185,312 sessions in 5,829
        // data-plane descriptors. The TCP share rounds to 0 and is lifted to 1; its two descriptors must
        // come out of the UDP share, or the plan holds one descriptor more than the limit.
        var plan = DescriptorBudget.Plan(new DescriptorBudgetRequest
        {
            Limit = 8_232, InUse = 137, DnsTcpConnections = 64, MaxApiConnections = 66_934,
            MaxConnectionsPerListener = 94_917, MaxConnections = 14, MaxUdpSessionsPerListener = 195_787, MaxUdpSessions = 185_312,
        });

        Assert.Equal(5_829, plan.DataPlaneDescriptors);
        Assert.Equal((1, 5_827), (plan.Connections, plan.UdpSessions));
        Assert.Equal(plan.Limit, plan.ControlPlaneReserve + (2L * plan.Connections) + plan.UdpSessions);

        // The mirror case: a session share that rounds to 0 is lifted to 1 and fits beside the floored
        // connection share, which always leaves at least one descriptor.
        var mirror = DescriptorBudget.Plan(new DescriptorBudgetRequest
        {
            Limit = 8_232, InUse = 137, MaxConnections = 185_312, MaxUdpSessions = 14,
        });
        Assert.Equal(1, mirror.UdpSessions);
        Assert.True(mirror.ControlPlaneReserve + (2L * mirror.Connections) + mirror.UdpSessions <= mirror.Limit);
    }

    [Fact]
    public void An_unknown_limit_keeps_the_caps_as_configured()
    {
        // Where RLIMIT_NOFILE cannot be read (Windows) the host passes int.MaxValue.
        var plan = DescriptorBudget.Plan(new DescriptorBudgetRequest { Limit = int.MaxValue, InUse = 0, MaxApiConnections = 2_000, MaxConnections = 1_000_000 });
        Assert.Empty(plan.Lowered);
        Assert.Equal(2_000, plan.ApiConnections);
        Assert.Equal(1_000_000, plan.Connections);
    }

    [Fact]
    public void No_plan_ever_overdraws_the_limit_and_every_lowered_cap_is_named()
    {
        var gen = Gen.Select(
            Gen.Long[500, 4_000_000],
            Gen.Int[0, 400],
            Gen.Bool,
            Gen.Int[8, 100_000],
            Gen.Int[1, 200_000],
            Gen.Int[1, 200_000].Nullable(),
            Gen.Int[1, 200_000],
            Gen.Int[1, 200_000].Nullable());
        gen.Sample((limit, inUse, dns, api, tcpPerListener, tcp, udpPerListener, udp) =>
        {
            var request = new DescriptorBudgetRequest
            {
                Limit = limit,
                InUse = inUse,
                DnsTcpConnections = dns ? 64 : 0,
                MaxApiConnections = api,
                MaxConnectionsPerListener = tcpPerListener,
                MaxConnections = tcp,
                MaxUdpSessionsPerListener = udpPerListener,
                MaxUdpSessions = udp,
            };
            DescriptorPlan plan;
            try
            {
                plan = DescriptorBudget.Plan(request);
            }
            catch (InvalidOperationException)
            {
                // Only when the fixed reserves leave too little.
                return limit - inUse - DescriptorBudget.RuntimeReserve - DescriptorBudget.DatabaseReserve - (dns ? 68 : 0) - DescriptorBudget.ListenerReserveFor(limit) < DescriptorBudget.MinimumUsable;
            }

            var used = plan.ControlPlaneReserve + (2L * plan.Connections) + plan.UdpSessions;
            var lowered = plan.Lowered.ToDictionary(c => c.Name, c => c.Granted);
            return used <= limit
                && plan.ConnectionsPerListener <= plan.Connections && plan.UdpSessionsPerListener <= plan.UdpSessions
                && plan.ApiConnections >= DescriptorBudget.MinApiConnections && plan.Connections >= 1 && plan.UdpSessions >= 1
                && (plan.ApiConnections == api) != lowered.ContainsKey("API connections")
                && (plan.ConnectionsPerListener == Math.Min(tcpPerListener, tcp ?? int.MaxValue)) != lowered.ContainsKey("TCP connections per listener")
                && (plan.UdpSessionsPerListener == Math.Min(udpPerListener, udp ?? int.MaxValue)) != lowered.ContainsKey("UDP sessions per listener")
                && (tcp is null || (plan.Connections == tcp) != lowered.ContainsKey("TCP connections in total"))
                && (udp is null || (plan.UdpSessions == udp) != lowered.ContainsKey("UDP sessions in total"))
                && (plan.Warning is null) == (plan.Lowered.Count == 0)
                && (plan.Lowered.Count == 0 || limit < plan.RequiredLimit);
        }, iter: 20_000);
    }
}
