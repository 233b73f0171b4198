/** A card for work in progress: a title, a progress bar, a status line and a Stop button that says when it is
 * stopping. (Convert to Parquet and Make tables show their running stage with it.) */
export function RunningCard(props: {
  testId: string;
  title: string;
  progressTestId: string;
  max: number;
  value: number;
  status: string;
  cancelling: boolean;
  onStop: () => void;
}) {
  return (
    <section className="card" data-testid={props.testId} aria-busy="true">
      <h3>{props.title}</h3>
      <progress max={props.max} value={props.value} data-testid={props.progressTestId} />
      <p role="status">{props.status}</p>
      <div className="actions">
        <button type="button" className="danger" disabled={props.cancelling} onClick={props.onStop}>
          {props.cancelling ? "Stopping…" : "Stop"}
        </button>
      </div>
    </section>
  );
}
