using System.Net;
using System.Text;
using System.Text.Json;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;

namespace MultiVip.Server.Tests;

/// <summary>Bad query values and bodies that are not JSON get a status and a message of their own.</summary>
public sealed class QueryAndMediaTypeErrorTests
{
    private static async Task<(HttpStatusCode Status, ErrorBody Body)> ErrorOf(HttpResponseMessage response) =>
        (response.StatusCode, JsonSerializer.Deserialize<ErrorBody>(await response.Content.ReadAsStringAsync(), ApiJson.Options)!);

    [Theory]
    [InlineData("abc", "must be a whole number from 1 to 1000, not 'abc'")]
    [InlineData("1.5", "must be a whole number from 1 to 1000, not '1.5'")]
    [InlineData("-3", "must be a whole number from 1 to 1000, not '-3'")]
    [InlineData("", "must be a whole number from 1 to 1000, not ''")]
    [InlineData("99999999999", "must be a whole number from 1 to 1000")]
    [InlineData("0", "must be from 1 to 1000 (got 0)")]
    [InlineData("1001", "must be from 1 to 1000 (got 1001)")]
    [InlineData("5000", "must be from 1 to 1000 (got 5000)")]
    public async Task A_bad_limit_is_refused_with_a_message_naming_the_parameter(string limit, string expected)
    {
        await using var f = await ServerFixture.StartAsync();

        using var response = await f.Http.GetAsync($"{ApiRoutes.Operations}?limit={Uri.EscapeDataString(limit)}");
        var (status, body) = await ErrorOf(response);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(nameof(ErrorCode.BadRequest), body.Code);
        Assert.Contains("query parameter 'limit'", body.Message);
        Assert.Contains(expected, body.Message);
    }

    [Fact]
    public async Task Limits_from_1_to_1000_are_honoured()
    {
        await using var f = await ServerFixture.StartAsync();
        foreach (var name in new[] { "a1", "a2", "a3" })
        {
            await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = name });
        }

        Assert.Single(await f.GetAsync<List<Operation>>($"{ApiRoutes.Operations}?limit=1"));
        Assert.Equal(3, (await f.GetAsync<List<Operation>>($"{ApiRoutes.Operations}?limit=1000")).Count);
        Assert.Equal(3, (await f.GetAsync<List<Operation>>(ApiRoutes.Operations)).Count);
    }

    [Fact]
    public async Task A_bad_delete_all_flag_names_the_parameter_and_deletes_nothing()
    {
        await using var f = await ServerFixture.StartAsync();
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "keep" });

        using var response = await f.Http.DeleteAsync(ApiRoutes.Service("keep") + "?deleteAll=yes");
        var (status, body) = await ErrorOf(response);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The query parameter 'deleteAll' must be true or false, not 'yes'.", body.Message);
        Assert.Single(await f.GetAsync<List<ServiceView>>(ApiRoutes.Services));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task A_body_that_is_not_json_is_415_with_its_own_code(string contentType)
    {
        await using var f = await ServerFixture.StartAsync();

        using var content = new StringContent("""{"name":"svc"}""", Encoding.UTF8, contentType);
        using var response = await f.Http.PostAsync(ApiRoutes.Services, content);
        var (status, body) = await ErrorOf(response);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("UnsupportedMediaType", body.Code);
        Assert.Contains("Content-Type: application/json", body.Message);
        Assert.Contains(contentType, body.Message);
        Assert.Empty(await f.GetAsync<List<ServiceView>>(ApiRoutes.Services));
    }
}
