using MultiVip.Model.Errors;

namespace MultiVip.Model.Tests.Errors;

public class ErrorCodesTests
{
    [Theory]
    [InlineData(ErrorCode.BadRequest, 400)]
    [InlineData(ErrorCode.Unauthorized, 401)]
    [InlineData(ErrorCode.MisdirectedRequest, 421)]
    [InlineData(ErrorCode.TooManyRequests, 429)]
    [InlineData(ErrorCode.ResourceNotFound, 404)]
    [InlineData(ErrorCode.ConflictError, 409)]
    [InlineData(ErrorCode.PreconditionFailed, 412)]
    [InlineData(ErrorCode.RequestTooLarge, 413)]
    [InlineData(ErrorCode.UnsupportedMediaType, 415)]
    [InlineData(ErrorCode.DataPlaneError, 500)]
    [InlineData(ErrorCode.InsufficientStorage, 507)]
    [InlineData(ErrorCode.InternalError, 500)]
    public void HttpStatus_maps_every_code(ErrorCode code, int status) => Assert.Equal(status, code.HttpStatus());

    [Fact]
    public void Every_code_has_a_client_or_server_error_status()
    {
        foreach (var code in Enum.GetValues<ErrorCode>())
        {
            Assert.InRange(code.HttpStatus(), 400, 599);
        }
    }

    [Fact]
    public void Exception_factories_carry_their_code_and_message()
    {
        Assert.Equal(ErrorCode.BadRequest, MultiVipException.BadRequest("a").Code);
        Assert.Equal(ErrorCode.ResourceNotFound, MultiVipException.NotFound("b").Code);
        Assert.Equal(ErrorCode.ConflictError, MultiVipException.Conflict("c").Code);
        var ex = MultiVipException.PreconditionFailed("d");
        Assert.Equal(ErrorCode.PreconditionFailed, ex.Code);
        Assert.Equal("d", ex.Message);
    }
}
