export interface Activity {
  kind: 'generate-token-key' | 'install-certificate' | 'destroy-token-key';
  requestId: string;
  tokenSerial: string;
  since: string;
}

/** What the agent is doing right now (for `token-agent status`); never holds a secret. */
export class AgentActivity {
  private readonly current = new Map<string, Activity>();
  private listener: (() => void) | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  onChange(listener: () => void): void {
    this.listener = listener;
  }

  list(): Activity[] {
    return [...this.current.values()];
  }

  async run<T>(activity: Omit<Activity, 'since'>, work: () => Promise<T>): Promise<T> {
    const key = `${activity.kind}:${activity.requestId}`;
    this.current.set(key, { ...activity, since: this.now().toISOString() });
    this.listener?.();
    try {
      return await work();
    } finally {
      this.current.delete(key);
      this.listener?.();
    }
  }
}
