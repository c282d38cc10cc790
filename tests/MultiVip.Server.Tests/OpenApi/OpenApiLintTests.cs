using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using MultiVip.Contracts;

namespace MultiVip.Server.Tests.OpenApi;

/// <summary>
/// The OpenAPI document a client generator reads, as a running server serves it: clean under
/// Redocly's recommended rules, and naming every route the client uses (ApiRoutes).
/// </summary>
public sealed class OpenApiLintTests
{
    // Redocly's recommended ruleset; warnings fail the test too, so "clean" means clean. One rule
    // is off: info-license wants a license in the document, and the project publishes none;
    // naming one there would state terms that do not exist.
    private const string Config = """
        extends:
          - recommended
        rules:
          info-license: off
        """;

    [Fact]
    public async Task The_served_document_is_clean_under_redocly_recommended()
    {
        var redocly = await RedoclyCli.EnsureAsync();
        await using var f = await ServerFixture.StartAsync();
        var text = await f.Http.GetStringAsync(ApiRoutes.OpenApiDocument);
        var dir = Directory.CreateTempSubdirectory("multivip-openapi-");
        try
        {
            var document = Path.Combine(dir.FullName, "openapi.json");
            await File.WriteAllTextAsync(document, text);
            if (Environment.GetEnvironmentVariable("MULTIVIP_OPENAPI_DUMP") is { Length: > 0 } dump)
            {
                File.Copy(document, dump, overwrite: true);
            }

            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "redocly.yaml"), Config);
            var (code, output) = await RedoclyCli.RunAsync(redocly, ["lint", "--format", "stylish", "openapi.json"], dir.FullName, TimeSpan.FromMinutes(2));
            // Stylish lines are "line:col  error|warning  rule  message"; the banner around them is not a problem.
            var problems = Regex.Matches(output, @"^\s*\d+:\d+\s+(error|warning)\s.*$", RegexOptions.Multiline);
            Assert.True(code == 0 && problems.Count == 0, $"redocly lint exited {code} with {problems.Count} problems:\n{output}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The client builds its URLs from ApiRoutes: each of them (every constant under /api and every
    /// method, with its parameters as the template's names) must be a path of the served document,
    /// so a route the client calls cannot be missing from what generators see.
    /// </summary>
    [Fact]
    public async Task Every_route_the_client_builds_is_in_the_document()
    {
        await using var f = await ServerFixture.StartAsync();
        var doc = await f.GetAsync<JsonElement>(ApiRoutes.OpenApiDocument);
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var templates = ClientTemplates().ToList();
        Assert.True(templates.Count >= 15, $"only {templates.Count} routes found in ApiRoutes");
        var missing = templates.Where(t => !paths.Contains(t)).ToList();
        Assert.True(missing.Count == 0, $"routes the client builds that the document lacks: {string.Join(", ", missing)}; the document has {string.Join(", ", paths.Order())}");
    }

    private static IEnumerable<string> ClientTemplates()
    {
        foreach (var field in typeof(ApiRoutes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.IsLiteral && field.GetValue(null) is string route && route.StartsWith("/api/", StringComparison.Ordinal))
            {
                yield return route;
            }
        }

        foreach (var method in typeof(ApiRoutes).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            if (method.ReturnType != typeof(string))
            {
                continue;
            }

            var parameters = method.GetParameters();
            var guids = parameters.Select(_ => Guid.NewGuid()).ToArray();
            var arguments = parameters.Select((p, i) => p.ParameterType == typeof(Guid) ? guids[i] : (object)("\u0001" + p.Name + "\u0002")).ToArray();
            var url = Uri.UnescapeDataString((string)method.Invoke(null, arguments)!);
            for (var i = 0; i < parameters.Length; i++)
            {
                url = url.Replace("\u0001" + parameters[i].Name + "\u0002", "{" + parameters[i].Name + "}", StringComparison.Ordinal)
                    .Replace(guids[i].ToString(), "{" + parameters[i].Name + "}", StringComparison.Ordinal);
            }

            yield return url;
        }
    }
}
