using Microsoft.Extensions.Logging.Abstractions;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Nftables;

namespace MultiVip.Network.Tests.Kernel;

/// <summary>
/// A shell script in place of nft, and a kernel plane that commits through it (one process per commit, no
/// netlink writer, conntrack /bin/false): tests of the plane's own logic that change no ruleset at all.
/// </summary>
internal sealed class StandInNft : IAsyncDisposable
{
    private readonly DirectoryInfo _directory;

    private StandInNft(DirectoryInfo directory, NftablesDataPlane plane)
    {
        _directory = directory;
        Plane = plane;
    }

    public NftablesDataPlane Plane { get; }

    /// <param name="script">The body after <c>#!/bin/sh</c>: what every "commit" does.</param>
    public static async Task<StandInNft> CreateAsync(string script)
    {
        var directory = Directory.CreateTempSubdirectory("multivip-stand-in-nft");
        var nft = Path.Combine(directory.FullName, "nft");
        await File.WriteAllTextAsync(nft, "#!/bin/sh\n" + script);
        File.SetUnixFileMode(nft, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var plane = new NftablesDataPlane(
            new NftablesOptions { Nft = nft, Conntrack = "/bin/false" },
            new DataPlaneHost(new DataPlaneOptions(), NullLoggerFactory.Instance, TimeProvider.System),
            NullLoggerFactory.Instance,
            TimeProvider.System);
        return new StandInNft(directory, plane);
    }

    public async ValueTask DisposeAsync()
    {
        await Plane.DisposeAsync();
        _directory.Delete(recursive: true);
    }
}
