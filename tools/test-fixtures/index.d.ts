export declare function referenceFixture(name: string): string;
export declare const FIXTURES: {
  readonly backboneTaps: string;
  readonly head: string;
  readonly io: string;
  readonly stateDictShapes: string;
};
