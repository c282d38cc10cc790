using System.Security.Cryptography;
using MultiVip.Model.Errors;
using MultiVip.Server.Dashboard;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Security;

/// <summary>Checked authentication settings, ready to register; made before the server opens anything.</summary>
internal sealed record PreparedAuthentication(AuthenticationOptions Options, AllowedHosts Hosts);

internal static class AuthenticationSetup
{
    /// <summary>Validates the options (a bad value is refused before anything starts) and reads the TLS certificate's names.</summary>
    public static PreparedAuthentication Prepare(ServerOptions server)
    {
        var options = server.Authentication;
        if (options.FailureLimit < 1)
        {
            throw MultiVipException.BadRequest($"The failed-authentication limit must be at least 1, not {options.FailureLimit} (--auth-failure-limit).");
        }

        if (options.FailureWindow <= TimeSpan.Zero)
        {
            throw MultiVipException.BadRequest($"The failed-authentication window must be longer than zero, not {options.FailureWindow}.");
        }

        if (options.MaxTrackedAddresses < 1 || options.MaxSessions < 1)
        {
            throw MultiVipException.BadRequest("MaxTrackedAddresses and MaxSessions must be at least 1.");
        }

        if (options.SessionLifetime < TimeSpan.FromMinutes(1))
        {
            throw MultiVipException.BadRequest($"A dashboard session must last at least one minute, not {options.SessionLifetime} (--session-lifetime, in minutes).");
        }

        string? certificate = null;
        try
        {
            certificate = server.TlsCertificate is { } path && File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            // Kestrel reports an unreadable certificate when it loads it; the Host check then knows no names from it.
        }
        catch (UnauthorizedAccessException)
        {
        }

        try
        {
            return new PreparedAuthentication(options, new AllowedHosts(options.AllowedHosts, certificate, options.Time));
        }
        catch (CryptographicException)
        {
            return new PreparedAuthentication(options, new AllowedHosts(options.AllowedHosts, null, options.Time));
        }
    }

    public static IServiceCollection AddMultiVipAuthentication(this IServiceCollection services, string token, PreparedAuthentication prepared)
    {
        var options = prepared.Options;
        services.AddSingleton(prepared.Hosts);
        services.AddSingleton(new BearerToken(token));
        // A factory registration, so the container disposes it (its sweep timer).
        services.AddSingleton(sp => new AuthFailureLimiter(options, options.Time, sp.GetRequiredService<ILogger<AuthFailureLimiter>>()));
        services.AddSingleton(new DashboardSessions(options.SessionLifetime, options.MaxSessions, options.Time));
        services.AddSingleton(sp => new DashboardSecurity(token, sp.GetRequiredService<BearerToken>(), sp.GetRequiredService<DashboardSessions>(), sp.GetRequiredService<AuthFailureLimiter>()));
        return services;
    }
}
