/// Figures: Cairo plotting primitives and the paper-style figure recipes.
/// (Grows with issue 6.)
public enum FiguresModule {}
