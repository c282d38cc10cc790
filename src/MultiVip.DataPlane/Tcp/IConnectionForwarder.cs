namespace MultiVip.DataPlane.Tcp;

/// <summary>
/// Moves bytes between the two sockets of a connection until both directions end, propagating
/// FIN and RST. The epoll engine's forwarder also splices bulk directions behind it: the listener only needs
/// this contract, not how the bytes move.
/// </summary>
internal interface IConnectionForwarder
{
    ValueTask ForwardAsync(ForwardedConnection connection);
}
