import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

// findBy…/waitFor give up after 5 s, not 1 s: on a loaded 2-core machine a whole render can take longer than a
// second (a ServerForm test failed once in five runs so), and a real failure fails either way.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => cleanup());
