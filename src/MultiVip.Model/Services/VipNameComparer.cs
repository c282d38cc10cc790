namespace MultiVip.Model.Services;

/// <summary>(service, VIP) name pairs compared as the domain compares names: ignoring case.</summary>
public sealed class VipNameComparer : IEqualityComparer<(string Service, string Vip)>
{
    public static readonly VipNameComparer Instance = new();

    public bool Equals((string Service, string Vip) x, (string Service, string Vip) y) =>
        Names.Equal(x.Service, y.Service) && Names.Equal(x.Vip, y.Vip);

    public int GetHashCode((string Service, string Vip) obj) =>
        HashCode.Combine(Names.Comparer.GetHashCode(obj.Service), Names.Comparer.GetHashCode(obj.Vip));
}
