using System.Security.Cryptography;

namespace MultiVip.Server.Security;

/// <summary>
/// The dashboard's signed-in browsers, held on the server: the cookie carries only a random
/// 256-bit session id, and a session is valid while it is in this table and not past its absolute
/// lifetime. Sign-out removes it, so a copy of the cookie stops working too. The table lives in
/// memory: a restart (or a new token, which needs one) signs every browser out.
/// Ids are stored as their SHA-256, so the lookup's timing reveals nothing about the ids held.
/// </summary>
internal sealed class DashboardSessions(TimeSpan lifetime, int maxSessions, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTimeOffset> _expiryByHash = new(StringComparer.Ordinal);

    public TimeSpan Lifetime => lifetime;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _expiryByHash.Count;
            }
        }
    }

    /// <summary>A new session: its id (the cookie's value) and when it ends.</summary>
    public (string Id, DateTimeOffset Expires) Create()
    {
        var id = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        var expires = now + lifetime;
        lock (_lock)
        {
            if (_expiryByHash.Count >= maxSessions)
            {
                // Only a holder of the token can sign in, so this is a tidy-up, not a defence: drop
                // what has ended, and if that is not enough, the session that ends first.
                foreach (var ended in _expiryByHash.Where(s => s.Value <= now).Select(s => s.Key).ToList())
                {
                    _expiryByHash.Remove(ended);
                }

                if (_expiryByHash.Count >= maxSessions)
                {
                    _expiryByHash.Remove(_expiryByHash.MinBy(s => s.Value).Key);
                }
            }

            _expiryByHash[Hash(id)] = expires;
        }

        return (id, expires);
    }

    public bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 100)
        {
            return false;
        }

        var key = Hash(id);
        lock (_lock)
        {
            if (!_expiryByHash.TryGetValue(key, out var expires))
            {
                return false;
            }

            if (time.GetUtcNow() < expires)
            {
                return true;
            }

            _expiryByHash.Remove(key);
            return false;
        }
    }

    public void Revoke(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 100)
        {
            return;
        }

        lock (_lock)
        {
            _expiryByHash.Remove(Hash(id));
        }
    }

    private static string Hash(string id) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)));

    internal static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
