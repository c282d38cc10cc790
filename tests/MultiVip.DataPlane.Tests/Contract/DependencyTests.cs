using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace MultiVip.DataPlane.Tests.Contract;

/// <summary>
/// The data plane depends on the desired-state contract and the domain's vocabulary only (protocols,
/// probes, ACL rules and subnets), never on the control plane, the API wire contract, validation or
/// errors: what a second data plane (a kernel one) may assume is exactly what this one uses. Read from
/// the compiled assembly's metadata, so a reference in any method body counts, not just signatures.
/// </summary>
public sealed class DependencyTests
{
    [Fact]
    public void Data_plane_references_the_contract_and_the_domain_vocabulary_only()
    {
        using var stream = File.OpenRead(typeof(DataPlaneHost).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();

        var assemblies = metadata.AssemblyReferences
            .Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))
            .Where(name => name.StartsWith("MultiVip.", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        Assert.Equal(["MultiVip.DataPlane.Contract", "MultiVip.Model"], assemblies);

        var modelNamespaces = metadata.TypeReferences
            .Select(h => metadata.GetTypeReference(h))
            .Select(t => Outermost(metadata, t))
            .Where(t => t.ResolutionScope.Kind == HandleKind.AssemblyReference
                && metadata.GetString(metadata.GetAssemblyReference((AssemblyReferenceHandle)t.ResolutionScope).Name) == "MultiVip.Model")
            .Select(t => metadata.GetString(t.Namespace))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Subset(new HashSet<string>(StringComparer.Ordinal) { "MultiVip.Model.Services", "MultiVip.Model.Networking" }, modelNamespaces);
    }

    private static TypeReference Outermost(MetadataReader metadata, TypeReference type)
    {
        while (type.ResolutionScope.Kind == HandleKind.TypeReference)
        {
            type = metadata.GetTypeReference((TypeReferenceHandle)type.ResolutionScope);
        }

        return type;
    }
}
