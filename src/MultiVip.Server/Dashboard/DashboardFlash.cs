using System.Security.Cryptography;

namespace MultiVip.Server.Dashboard;

/// <summary>
/// Post/redirect/get for the dashboard's forms: every form post answers with 303 See Other, so a
/// reload repeats the GET, never the change. What the post had to say that the page cannot show by
/// itself (an error in the API's words) waits here under a random id that the redirect carries as
/// <c>?flash=</c>, and is shown once. Bounded: at most <see cref="Capacity"/> messages, each for
/// <see cref="Lifetime"/>; the oldest goes first.
/// </summary>
internal sealed class DashboardFlash(TimeProvider time)
{
    public const int Capacity = 256;
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Banner Banner, DateTimeOffset Expires)> _messages = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public string Put(Banner banner)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        lock (_gate)
        {
            while (_messages.Count >= Capacity && _order.TryDequeue(out var oldest))
            {
                _messages.Remove(oldest);
            }

            if (_order.Count >= 2 * Capacity)
            {
                // Ids already shown stay queued until here: keep the queue bounded too.
                var live = _order.Where(_messages.ContainsKey).ToList();
                _order.Clear();
                live.ForEach(_order.Enqueue);
            }

            _messages[id] = (banner, time.GetUtcNow() + Lifetime);
            _order.Enqueue(id);
        }

        return id;
    }

    /// <summary>The message once (a second read finds nothing), null when unknown or expired.</summary>
    public Banner? Take(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        lock (_gate)
        {
            if (!_messages.Remove(id, out var entry))
            {
                return null;
            }

            return entry.Expires > time.GetUtcNow() ? entry.Banner : null;
        }
    }
}

/// <summary>303 See Other: the browser follows with a GET whatever the post was.</summary>
internal sealed class SeeOther(string location) : IResult
{
    public string Location { get; } = location;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
        httpContext.Response.Headers.Location = Location;
        return Task.CompletedTask;
    }
}
