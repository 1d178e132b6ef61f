import Foundation

/// An sRGB colour with components in 0…1 (alpha 1 = opaque).
public struct Colour: Sendable, Equatable {
    /// Red, 0…1.
    public var red: Double
    /// Green, 0…1.
    public var green: Double
    /// Blue, 0…1.
    public var blue: Double
    /// Opacity, 0…1.
    public var alpha: Double

    /// A colour from 0…1 components.
    public init(red: Double, green: Double, blue: Double, alpha: Double = 1) {
        self.red = red; self.green = green; self.blue = blue; self.alpha = alpha
    }

    /// A colour from a 24-bit 0xRRGGBB literal.
    public init(hex: UInt32, alpha: Double = 1) {
        self.init(red: Double((hex >> 16) & 0xff) / 255, green: Double((hex >> 8) & 0xff) / 255,
                  blue: Double(hex & 0xff) / 255, alpha: alpha)
    }

    /// Black.
    public static let black = Colour(hex: 0x000000)
    /// White.
    public static let white = Colour(hex: 0xffffff)
    /// Current traces (seed Fig. 1E: "current (blue)").
    public static let blue = Colour(hex: 0x1f5fbf)
    /// Red for models and markers of note (the seed's red arrows).
    public static let red = Colour(hex: 0xc8102e)
    /// Mid grey for guides and annotations.
    public static let grey = Colour(hex: 0x808080)
    /// Light grey for frames and shading.
    public static let lightGrey = Colour(hex: 0xd9d9d9)
    /// Background of masked (NaN) image pixels.
    public static let maskBackground = Colour(hex: 0xbfbfbf)

    /// 8-bit components (rounded), for pixel checks.
    public var bytes: (UInt8, UInt8, UInt8) {
        func b(_ x: Double) -> UInt8 { UInt8(max(0, min(255, (x * 255).rounded()))) }
        return (b(red), b(green), b(blue))
    }
}

/// A colour norm: maps data values to 0…1 (matplotlib's `Normalize`), kept apart from the colormap.
public struct ColourNorm: Sendable, Equatable {
    /// Data value mapped to 0.
    public var lower: Double
    /// Data value mapped to 1.
    public var upper: Double
    /// Data value mapped to 0.5 (for diverging maps: zero → white). `nil` for a plain linear norm.
    public var centre: Double?

    /// A linear norm from `lower` to `upper`.
    public init(lower: Double, upper: Double) {
        self.lower = lower; self.upper = upper; self.centre = nil
    }

    /// A norm centred at `centre` and symmetric: ±`halfRange` around it map to 0 and 1.
    public static func centred(at centre: Double = 0, halfRange: Double) -> ColourNorm {
        let h = halfRange > 0 && halfRange.isFinite ? halfRange : 1
        var n = ColourNorm(lower: centre - h, upper: centre + h)
        n.centre = centre
        return n
    }

    /// A centred norm whose half-range covers the largest |value − centre| in `values` (NaN ignored),
    /// rounded up to a nice number so that the colorbar's end ticks are round.
    public static func centred(covering values: [Float], at centre: Double = 0, percentile: Double = 1.0) -> ColourNorm {
        var dev: [Double] = []
        dev.reserveCapacity(values.count)
        for v in values where v.isFinite { dev.append(abs(Double(v) - centre)) }
        guard !dev.isEmpty else { return .centred(at: centre, halfRange: 1) }
        dev.sort()
        let idx = min(dev.count - 1, max(0, Int((Double(dev.count - 1) * percentile).rounded())))
        let m = dev[idx] > 0 ? dev[idx] : 1
        let step = TickLocator.niceStep(span: m, targetCount: 2)
        return .centred(at: centre, halfRange: Foundation.ceil(m / step - 1e-9) * step)
    }

    /// Maps a value to 0…1 (clipped); NaN stays NaN.
    public func normalise(_ v: Double) -> Double {
        guard v.isFinite else { return .nan }
        let t: Double
        if let c = centre {
            t = v >= c ? 0.5 + 0.5 * (v - c) / max(upper - c, .leastNonzeroMagnitude)
                       : 0.5 - 0.5 * (c - v) / max(c - lower, .leastNonzeroMagnitude)
        } else {
            t = upper == lower ? 0.5 : (v - lower) / (upper - lower)
        }
        return min(1, max(0, t))
    }
}

/// A colormap: maps 0…1 to a colour by linear interpolation between evenly spaced stops.
public struct Colormap: Sendable, Equatable {
    /// Name shown nowhere but useful in tests and logs.
    public var name: String
    /// Evenly spaced colour stops from 0 to 1.
    public var stops: [Colour]

    /// A colormap from evenly spaced stops (at least two).
    public init(name: String, stops: [Colour]) {
        self.name = name
        self.stops = stops.count >= 2 ? stops : [.black, .white]
    }

    /// The colour at `t` in 0…1 (clamped).
    public func colour(at t: Double) -> Colour {
        let x = min(1, max(0, t.isFinite ? t : 0)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(x))
        let f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return Colour(red: a.red + (b.red - a.red) * f, green: a.green + (b.green - a.green) * f,
                      blue: a.blue + (b.blue - a.blue) * f)
    }

    /// Diverging blue–white–red map for total contrast (ColorBrewer RdBu with a pure-white centre):
    /// with a centred norm, zero is white, negative blue, positive red (seed Fig. 2B, 4B).
    public static let blueWhiteRed = Colormap(name: "blue-white-red", stops: [
        0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xffffff,
        0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f,
    ].map { Colour(hex: $0) })

    /// Perceptually uniform sequential map viridis (matplotlib's table sampled at 33 stops).
    public static let viridis = Colormap(name: "viridis", stops: [
        0x440154, 0x470d60, 0x48186a, 0x482374, 0x472d7b, 0x453781, 0x424086, 0x3e4989, 0x3b528b,
        0x375b8d, 0x33638d, 0x2f6b8e, 0x2c728e, 0x297a8e, 0x26828e, 0x23898e, 0x21918c, 0x1f988b,
        0x1fa088, 0x22a785, 0x28ae80, 0x32b67a, 0x3fbc73, 0x4ec36b, 0x5ec962, 0x70cf57, 0x84d44b,
        0x98d83e, 0xaddc30, 0xc2df23, 0xd8e219, 0xece51b, 0xfde725,
    ].map { Colour(hex: $0) })
}
