using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace MultiVip.DataPlane.Nftables;

/// <summary>
/// Writes a NAT listener's whole Maglev slot map (5,003 elements: slot → the backend's conntrack mark) straight
/// to the kernel as one nf_tables netlink batch, without nft's parser. Through nft the same elements cost
/// ~25 ms of parse and evaluation in user space per map (measured with <c>nft -f</c> of ten such maps: 330 ms
/// CPU, 20 ms of it the empty maps), the one change kind that kept the update cost above 20 ms at 10,000
/// listeners (docs/kernel-plane.md, "Update cost at scale"). The batch is one kernel transaction (all of
/// it or none), written into a <b>spare</b> map no rule references yet, so traffic cannot see it half
/// filled; the nft transaction that makes the listener use it commits after, and only then does the
/// change succeed. Not thread-safe: the data plane calls it under its commit lock.
/// <para>
/// The encoding is the kernel's uapi (linux/netfilter/nf_tables.h, nfnetlink.h): a batch begin and end
/// around NFT_MSG_NEWSETELEM messages, each element a nested key and data of one 32-bit value in host
/// byte order (what nft stores for <c>numgen … mod</c> keys and <c>ct mark</c> values). KernelPlaneTests
/// reads a map written this way back with nft and compares every slot with the user-space Maglev table.
/// </para>
/// </summary>
internal sealed class NftSetElements : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkNetfilter = 12;
    private const int SolSocket = 1;
    private const int SoSndbufForce = 32;
    private const int SoRcvbufForce = 33;
    private const int SoRcvtimeo = 20;

    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFCreate = 0x400;
    private const ushort NlmsgError = 0x2;
    private const ushort BatchBegin = 0x10;
    private const ushort BatchEnd = 0x11;
    private const byte SubsysNftables = 10;
    private const byte NftMsgNewSetElem = 12;
    private const byte NfprotoInet = 1;

    private const ushort NlaNested = 0x8000;
    private const ushort ListTable = 1;
    private const ushort ListSet = 2;
    private const ushort ListElements = 3;
    private const ushort ListElem = 1;
    private const ushort ElemKey = 1;
    private const ushort ElemData = 2;
    private const ushort DataValue = 1;

    /// <summary>Bytes of one element: list element, key (nested value) and data (nested value), each attribute header 4 bytes.</summary>
    private const int ElementBytes = 4 + (4 + 8) + (4 + 8);

    /// <summary>An attribute's length is 16 bits, so the elements attribute of one message holds at most ~2,300: 2,000 per message.</summary>
    private const int ElementsPerMessage = 2000;

    private readonly int _socket;

    /// <summary>
    /// The batch and reply buffers, kept: a map's batch is ~140 KB, which as a fresh array per new set would land
    /// on the large-object heap each time, whose budget sets off blocking gen2 collections.
    /// </summary>
    private byte[] _buffer = [];

    private readonly byte[] _reply = new byte[64 << 10];
    private uint _sequence = (uint)Environment.TickCount;

    private NftSetElements(int socket) => _socket = socket;

    /// <summary>The writer, or null with the reason when this process cannot open an nf_tables netlink socket (the caller writes elements through nft then).</summary>
    public static NftSetElements? TryOpen(out string? problem)
    {
        var socket = NativeMethods.socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
        if (socket < 0)
        {
            problem = $"netlink socket: errno {Marshal.GetLastPInvokeError()}";
            return null;
        }

        // A batch is one datagram (nfnetlink handles a batch per message buffer): room for several maps.
        var size = 4 << 20;
        var timeout = new byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(timeout, 5); // struct timeval { 5 s, 0 µs }: a reply never comes only if the kernel is broken
        if (NativeMethods.setsockopt(socket, SolSocket, SoSndbufForce, ref size, sizeof(int)) != 0
            || NativeMethods.setsockopt(socket, SolSocket, SoRcvbufForce, ref size, sizeof(int)) != 0
            || NativeMethods.setsockopt(socket, SolSocket, SoRcvtimeo, timeout, (uint)timeout.Length) != 0)
        {
            problem = $"netlink socket options: errno {Marshal.GetLastPInvokeError()}";
            _ = NativeMethods.close(socket);
            return null;
        }

        problem = null;
        return new NftSetElements(socket);
    }

    /// <summary>
    /// Adds <paramref name="values"/>[slot] under every slot to the (empty) map <paramref name="map"/> of
    /// <c>inet multivip</c>, as one transaction. Throws <see cref="NftException"/> with the kernel's errno when it refuses.
    /// </summary>
    public void AddSlots(string map, uint[] values)
    {
        var messages = (values.Length + ElementsPerMessage - 1) / ElementsPerMessage;
        var table = Terminated(NftRuleset.TableName);
        var set = Terminated(map);
        var headerBytes = 16 + 4 + Attribute(table.Length) + Attribute(set.Length) + 4;
        var needed = (2 * 20) + (messages * headerBytes) + (values.Length * ElementBytes);
        if (_buffer.Length < needed)
        {
            _buffer = new byte[needed];
        }

        var buffer = _buffer;
        buffer.AsSpan(0, needed).Clear(); // attribute padding is not written below: no bytes of the last batch in it
        var at = 0;
        var first = _sequence;
        at = Message(buffer, at, BatchBegin, 0, NlmFRequest, SubsysNftables, out _);
        for (var m = 0; m < messages; m++)
        {
            at = Message(buffer, at, (ushort)((SubsysNftables << 8) | NftMsgNewSetElem), NfprotoInet, NlmFRequest | NlmFAck | NlmFCreate, 0, out var start);
            at = Put(buffer, at, ListTable, table);
            at = Put(buffer, at, ListSet, set);
            var elements = at;
            at += 4;
            for (var slot = m * ElementsPerMessage; slot < Math.Min(values.Length, (m + 1) * ElementsPerMessage); slot++)
            {
                Header(buffer, at, ElementBytes, ListElem | NlaNested);
                Header(buffer, at + 4, 12, ElemKey | NlaNested);
                Header(buffer, at + 8, 8, DataValue);
                BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 12), (uint)slot);
                Header(buffer, at + 16, 12, ElemData | NlaNested);
                Header(buffer, at + 20, 8, DataValue);
                BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 24), values[slot]);
                at += ElementBytes;
            }

            Header(buffer, elements, at - elements, ListElements | NlaNested);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(start), (uint)(at - start));
        }

        at = Message(buffer, at, BatchEnd, 0, NlmFRequest, SubsysNftables, out _);
        var address = new byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(address, AfNetlink); // sockaddr_nl { AF_NETLINK, 0, pid 0 (the kernel), groups 0 }
        if (NativeMethods.sendto(_socket, buffer, at, 0, address, (uint)address.Length) != at)
        {
            throw new NftException($"writing the elements of {map} through netlink failed: errno {Marshal.GetLastPInvokeError()}");
        }

        // The kernel ran the batch inside sendto; one reply per acknowledged message (0 or the errno).
        ReadAcks(map, first + 1, messages);
    }

    public void Dispose() => _ = NativeMethods.close(_socket);

    private void ReadAcks(string map, uint firstSequence, int count)
    {
        var reply = _reply;
        var acked = 0;
        string? refused = null;
        while (acked < count)
        {
            var length = (int)NativeMethods.recv(_socket, reply, reply.Length, 0);
            if (length <= 0)
            {
                throw new NftException($"no netlink reply for the elements of {map}: errno {Marshal.GetLastPInvokeError()}");
            }

            for (var at = 0; at + 16 <= length;)
            {
                var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(at));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(reply.AsSpan(at + 4));
                var sequence = BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(at + 8));
                if (size < 16)
                {
                    break;
                }

                if (type == NlmsgError && sequence - firstSequence < (uint)count)
                {
                    acked++;
                    var error = BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(at + 16));
                    if (error != 0)
                    {
                        refused ??= $"the kernel refused the elements of {map}: errno {-error} ({Marshal.GetPInvokeErrorMessage(-error)})";
                    }
                }

                at += (size + 3) & ~3;
            }
        }

        if (refused is not null)
        {
            throw new NftException(refused);
        }
    }

    /// <summary>A message header and its nfgenmsg; its length is the bare 20 bytes until the caller, having written the
    /// attributes, writes the whole length at <paramref name="start"/>.</summary>
    private int Message(byte[] buffer, int at, ushort type, byte family, ushort flags, ushort resourceId, out int start)
    {
        start = at;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at), 20u);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at + 4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at + 6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 8), _sequence++);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at + 12), 0);
        buffer[at + 16] = family; // struct nfgenmsg: family, version 0, resource id (big endian)
        buffer[at + 17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(at + 18), resourceId);
        return at + 20;
    }

    private static int Put(byte[] buffer, int at, ushort type, byte[] value)
    {
        Header(buffer, at, 4 + value.Length, type);
        value.CopyTo(buffer, at + 4);
        return at + Attribute(value.Length);
    }

    private static void Header(byte[] buffer, int at, int length, int type)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at + 2), (ushort)type);
    }

    private static int Attribute(int valueLength) => (4 + valueLength + 3) & ~3;

    private static byte[] Terminated(string name)
    {
        var bytes = new byte[System.Text.Encoding.ASCII.GetByteCount(name) + 1];
        System.Text.Encoding.ASCII.GetBytes(name, bytes);
        return bytes;
    }

    /// <summary>libc's socket calls, blittable arguments only (no generated marshalling).</summary>
    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int socket(int domain, int type, int protocol);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int setsockopt(int socket, int level, int name, ref int value, uint length);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int setsockopt(int socket, int level, int name, byte[] value, uint length);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern nint sendto(int socket, byte[] buffer, nint length, int flags, byte[] address, uint addressLength);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern nint recv(int socket, byte[] buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int close(int socket);
    }
}
