/** A page that is planned but not built yet. It says so plainly rather than pretending. */
export function ComingSoon({ title, description }: { title: string; description: string }) {
  return (
    <section className="page" aria-labelledby="coming-title">
      <h1 id="coming-title">{title}</h1>
      <div className="notice" data-testid="coming-soon">
        <strong className="notice-title">Not available yet</strong>
        <p>This part of Haul is not built yet. When it is, you will be able to:</p>
        <p>{description}</p>
      </div>
    </section>
  );
}
