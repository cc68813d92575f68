import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.xml.parsers.DocumentBuilderFactory;

import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.formats.RDFXMLDocumentFormat;
import org.semanticweb.owlapi.formats.TurtleDocumentFormat;
import org.semanticweb.owlapi.io.FileDocumentSource;
import org.semanticweb.owlapi.model.HasIRI;
import org.semanticweb.owlapi.model.IRI;
import org.semanticweb.owlapi.model.MissingImportHandlingStrategy;
import org.semanticweb.owlapi.model.OWLAnnotationAssertionAxiom;
import org.semanticweb.owlapi.model.OWLAxiom;
import org.semanticweb.owlapi.model.OWLClassAssertionAxiom;
import org.semanticweb.owlapi.model.OWLDeclarationAxiom;
import org.semanticweb.owlapi.model.OWLDocumentFormat;
import org.semanticweb.owlapi.model.OWLEntity;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyAlreadyExistsException;
import org.semanticweb.owlapi.model.OWLOntologyDocumentAlreadyExistsException;
import org.semanticweb.owlapi.model.OWLOntologyIRIMapper;
import org.semanticweb.owlapi.model.OWLOntologyLoaderConfiguration;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.model.OWLPropertyAssertionAxiom;
import org.semanticweb.owlapi.model.OWLSubClassOfAxiom;
import org.semanticweb.owlapi.model.OWLUnaryPropertyAxiom;
import org.semanticweb.owlapi.profiles.OWL2DLProfile;
import org.semanticweb.owlapi.profiles.OWLProfileReport;
import org.semanticweb.owlapi.profiles.OWLProfileViolation;
import org.semanticweb.owlapi.rdf.rdfxml.parser.RDFXMLParserFactory;
import org.semanticweb.owlapi.rdf.turtle.parser.TurtleOntologyParserFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * OWL 2 DL profile check for virtkg.
 *
 * <p>Usage: {@code java ProfileCheck [--catalog catalog-v001.xml] FILE...}
 *
 * <p>Every file is parsed with an explicit format (Turtle for .ttl, RDF/XML for .owl/.rdf); the
 * manager knows no other parser, so nothing can silently "load" as OBO or Manchester syntax.
 * owl:imports resolve through the catalog or the given files only; an unmapped import is an error
 * (no network). Output lines are tab-separated:
 * {@code LOADED file format ontology axioms}, {@code VIOLATION entity type message},
 * {@code ERROR entity message}. Exit code: 0 = in OWL 2 DL, 1 = violations, 2 = load errors.
 */
public final class ProfileCheck {

    private static final String UNRESOLVED = "file:/nonexistent/virtkg-unresolved-import/";

    private ProfileCheck() {}

    /** Maps import IRIs to local files; anything unknown goes to a file that does not exist. */
    static final class LocalMapper implements OWLOntologyIRIMapper {
        final Map<String, IRI> map = new LinkedHashMap<>();
        final Set<String> unresolved = new LinkedHashSet<>();

        @Override
        public IRI getDocumentIRI(IRI ontologyIRI) {
            String key = ontologyIRI.toString();
            if (key.startsWith("file:")) {
                return ontologyIRI;
            }
            IRI doc = map.get(key);
            if (doc != null) {
                return doc;
            }
            unresolved.add(key);
            return IRI.create(UNRESOLVED + Integer.toHexString(key.hashCode()));
        }
    }

    static void readCatalog(File catalog, LocalMapper mapper) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        NodeList nodes = factory.newDocumentBuilder().parse(catalog).getElementsByTagNameNS("*", "uri");
        File base = catalog.getAbsoluteFile().getParentFile();
        for (int i = 0; i < nodes.getLength(); i++) {
            Element e = (Element) nodes.item(i);
            File target = new File(base, e.getAttribute("uri")).getCanonicalFile();
            mapper.map.put(e.getAttribute("name"), IRI.create(target));
        }
    }

    static OWLDocumentFormat formatFor(String path) {
        if (path.endsWith(".ttl")) {
            return new TurtleDocumentFormat();
        }
        if (path.endsWith(".owl") || path.endsWith(".rdf")) {
            return new RDFXMLDocumentFormat();
        }
        return null;
    }

    static String oneLine(Object o) {
        return String.valueOf(o).replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
    }

    static String render(Object o) {
        if (o instanceof HasIRI) {
            return ((HasIRI) o).getIRI().toString();
        }
        return oneLine(o);
    }

    /** The entity a violation is about: the axiom's subject where it has one. */
    static String entityOf(OWLProfileViolation v) {
        OWLAxiom ax = v.getAxiom();
        if (ax instanceof OWLClassAssertionAxiom) {
            return render(((OWLClassAssertionAxiom) ax).getIndividual());
        }
        if (ax instanceof OWLPropertyAssertionAxiom) {
            return render(((OWLPropertyAssertionAxiom<?, ?>) ax).getSubject());
        }
        if (ax instanceof OWLAnnotationAssertionAxiom) {
            return render(((OWLAnnotationAssertionAxiom) ax).getSubject());
        }
        if (ax instanceof OWLDeclarationAxiom) {
            return render(((OWLDeclarationAxiom) ax).getEntity());
        }
        if (ax instanceof OWLSubClassOfAxiom) {
            return render(((OWLSubClassOfAxiom) ax).getSubClass());
        }
        if (ax instanceof OWLUnaryPropertyAxiom) {
            return render(((OWLUnaryPropertyAxiom<?>) ax).getProperty());
        }
        Object expression = v.getExpression();
        if (expression instanceof HasIRI) {
            return render(expression);
        }
        if (ax != null) {
            List<OWLEntity> entities = new ArrayList<>();
            ax.signature().forEach(entities::add);
            entities.sort(null);
            if (!entities.isEmpty()) {
                return render(entities.get(0));
            }
        }
        return v.getOntologyID().getOntologyIRI().map(IRI::toString).orElse("(anonymous ontology)");
    }

    public static void main(String[] args) throws Exception {
        LocalMapper mapper = new LocalMapper();
        List<File> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--catalog")) {
                readCatalog(new File(args[++i]), mapper);
            } else {
                files.add(new File(args[i]).getCanonicalFile());
            }
        }
        if (files.isEmpty()) {
            System.err.println("usage: ProfileCheck [--catalog catalog-v001.xml] FILE...");
            System.exit(2);
        }

        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        // Only the two parsers we accept: no silent fall-back to OBO, Manchester, functional...
        manager.getOntologyParsers().set(new TurtleOntologyParserFactory(), new RDFXMLParserFactory());
        manager.getIRIMappers().set(mapper);
        OWLOntologyLoaderConfiguration config = new OWLOntologyLoaderConfiguration()
                .setMissingImportHandlingStrategy(MissingImportHandlingStrategy.THROW_EXCEPTION)
                .setFollowRedirects(false)
                .setConnectionTimeout(1);
        manager.setOntologyLoaderConfiguration(config);

        int errors = 0;
        for (File file : files) {
            OWLDocumentFormat format = formatFor(file.getName());
            if (format == null) {
                System.out.println("ERROR\t" + file + "\tunknown extension (expected .ttl, .owl or .rdf)");
                errors++;
                continue;
            }
            if (manager.getOntology(IRI.create(file)) != null || loadedFrom(manager, file)) {
                continue; // already loaded as an import of an earlier file
            }
            try {
                manager.loadOntologyFromOntologyDocument(new FileDocumentSource(file, format), config);
            } catch (OWLOntologyAlreadyExistsException | OWLOntologyDocumentAlreadyExistsException e) {
                continue;
            } catch (Exception e) {
                String why = oneLine(e.getMessage());
                if (why.length() > 600) {
                    why = why.substring(0, 600) + "...";
                }
                System.out.println("ERROR\t" + file + "\tcould not load as " + format.getKey() + ": "
                        + e.getClass().getSimpleName() + ": " + why);
                errors++;
            }
        }
        for (String iri : mapper.unresolved) {
            System.out.println("ERROR\t" + iri + "\towl:imports target not mapped to a local file "
                    + "(add it to the catalog); not fetched from the network");
            errors++;
        }

        // Every loaded document must have been read by the parser its extension demands.
        for (OWLOntology ont : manager.getOntologies()) {
            IRI doc = manager.getOntologyDocumentIRI(ont);
            OWLDocumentFormat expected = formatFor(doc.toString());
            OWLDocumentFormat actual = manager.getOntologyFormat(ont);
            String iri = ont.getOntologyID().getOntologyIRI().map(IRI::toString).orElse("(anonymous)");
            if (expected == null || actual == null || !expected.getKey().equals(actual.getKey())) {
                System.out.println("ERROR\t" + doc + "\tparsed as "
                        + (actual == null ? "nothing" : actual.getKey()) + ", expected "
                        + (expected == null ? "Turtle or RDF/XML" : expected.getKey()));
                errors++;
            }
            System.out.println("LOADED\t" + doc + "\t" + (actual == null ? "?" : actual.getKey())
                    + "\t" + iri + "\t" + ont.getAxiomCount());
        }
        if (errors > 0) {
            System.exit(2);
        }

        OWL2DLProfile profile = new OWL2DLProfile();
        Set<String> seen = new LinkedHashSet<>();
        for (OWLOntology ont : manager.getOntologies()) {
            OWLProfileReport report = profile.checkOntology(ont);
            for (OWLProfileViolation v : report.getViolations()) {
                String line = "VIOLATION\t" + entityOf(v) + "\t" + v.getClass().getSimpleName() + "\t"
                        + oneLine(v);
                if (seen.add(line)) {
                    System.out.println(line);
                }
            }
        }
        System.exit(seen.isEmpty() ? 0 : 1);
    }

    static boolean loadedFrom(OWLOntologyManager manager, File file) {
        IRI doc = IRI.create(file);
        for (OWLOntology ont : manager.getOntologies()) {
            if (doc.equals(manager.getOntologyDocumentIRI(ont))) {
                return true;
            }
        }
        return false;
    }
}
