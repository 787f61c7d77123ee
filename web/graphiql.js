// Starts GraphiQL against this server's /graphql. A file of its own rather
// than an inline script, so the page's CSP can forbid inline scripts. Tokens
// go in GraphiQL's headers editor (`{"Authorization": "Bearer …"}`).
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: "/graphql" }),
    defaultEditorToolbarOpen: true,
  }),
);
