using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane.Tcp;
using MultiVip.DataPlane.Tests.Infrastructure;

namespace MultiVip.DataPlane.Tests.Tcp;

public abstract class BufferPinningTests(EngineUnderTest engine)
{
    /// <summary>Counts buffers out on loan so the test can see what idle connections hold.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        private int _outstanding;

        private int _rents;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public int Rents => Volatile.Read(ref _rents);

        public override byte[] Rent(int minimumLength)
        {
            Interlocked.Increment(ref _rents);
            Interlocked.Increment(ref _outstanding);
            return new byte[minimumLength];
        }

        public override void Return(byte[] array, bool clearArray = false) => Interlocked.Decrement(ref _outstanding);
    }

    [Fact]
    public async Task Idle_connections_hold_no_pooled_buffers()
    {
        var pool = new CountingPool();
        await using var backend = new TestBackend("vm1");
        await using var plane = new TcpDataPlane(engine.Apply(new DataPlaneOptions()), NullLoggerFactory.Instance, TimeProvider.System, pool);
        var key = TestNet.NextKey();
        await plane.ApplyOkAsync(1, TestNet.Spec(key, backend));

        var clients = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var client = await TestNet.ConnectAsync(key);
                clients.Add(client);
                await TestNet.RoundTripAsync(client, $"line {i}");
            }

            // The reply reached the client, so both copy loops are back in (or heading to) their
            // zero-byte wait; each returns its buffer before it waits.
            var deadline = DateTime.UtcNow + TestNet.Timeout;
            while (pool.Outstanding != 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(1); // bounded poll: the pool has no event to await
            }

            Assert.True(pool.Outstanding == 0, $"{pool.Outstanding} buffer(s) still out, rents={pool.Rents}");
            Assert.Equal(10, Assert.Single(plane.GetHealth()).ActiveConnections);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }
}

public sealed class BufferPinningTestsOnEpoll() : BufferPinningTests(SocketEngine.Epoll);

public sealed class BufferPinningTestsOnEpollSpliced() : BufferPinningTests(EngineUnderTest.EpollSpliced);

public sealed class BufferPinningTestsOnDotnet() : BufferPinningTests(SocketEngine.Dotnet);
