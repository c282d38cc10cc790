using System.Reflection;
using MultiVip.DataPlane;
using MultiVip.DataPlane.Contract;
using MultiVip.Server.Hosting;

namespace MultiVip.Server.Tests.Hosting;

/// <summary>
/// The server reaches the data plane through the contract's interfaces (health, traffic, UDP
/// sessions, the host's drain) and names the concrete one in one place only, the body of
/// ServerHost.DefaultDataPlane: no field, property, parameter or return type of any server type
/// (closures and async state machines included, so locals count too) is a concrete data plane.
/// </summary>
public sealed class DataPlaneSeamTests
{
    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Fact]
    public void No_server_type_holds_or_passes_a_concrete_data_plane()
    {
        var concrete = typeof(DataPlaneHost).Assembly.GetTypes()
            .Where(t => t.IsClass && (typeof(IBackendHealthSource).IsAssignableFrom(t) || typeof(ITrafficSource).IsAssignableFrom(t) || typeof(IUdpSessionSource).IsAssignableFrom(t)))
            .ToHashSet();
        Assert.Contains(typeof(DataPlaneHost), concrete);

        var offenders = new List<string>();
        foreach (var type in typeof(ServerHost).Assembly.GetTypes())
        {
            foreach (var (member, used) in Signatures(type))
            {
                if (Mentions(used, concrete))
                {
                    offenders.Add($"{type.FullName}.{member}: {used}");
                }
            }
        }

        Assert.Empty(offenders);
    }

    private static IEnumerable<(string Member, Type Used)> Signatures(Type type)
    {
        foreach (var field in type.GetFields(Everything))
        {
            yield return (field.Name, field.FieldType);
        }

        foreach (var property in type.GetProperties(Everything))
        {
            yield return (property.Name, property.PropertyType);
        }

        foreach (var method in type.GetMethods(Everything))
        {
            yield return (method.Name, method.ReturnType);
            foreach (var parameter in method.GetParameters())
            {
                yield return (method.Name, parameter.ParameterType);
            }
        }

        foreach (var constructor in type.GetConstructors(Everything))
        {
            foreach (var parameter in constructor.GetParameters())
            {
                yield return (constructor.Name, parameter.ParameterType);
            }
        }
    }

    private static bool Mentions(Type type, HashSet<Type> concrete) =>
        concrete.Contains(type)
        || (type.HasElementType && Mentions(type.GetElementType()!, concrete))
        || (type.IsGenericType && type.GetGenericArguments().Any(a => Mentions(a, concrete)));
}
