namespace MultiVip.Client;

/// <summary>A resource read with the ETag the server sent, to send back as If-Match on a later change.</summary>
public sealed record Versioned<T>(T Value, string? ETag);
